duplicate_found = object()
