# ruff: noqa: E501  (page markup and article text: long lines are data)
"""Two replicated portals in the styles of the government CMS families.

- ``sft.dongshan.gov.cn``: 东山省司法厅, a provincial department on Hanweb 大汉.  Its
  column pages (``/col/col1229/index.html`` 工作动态, ``/col/col1230/index.html`` 通知公告)
  embed the first entries in a ``<script type="text/xml">`` block and load the rest
  with ``POST /module/web/jpage/dataproxy.jsp?startrecord=N&endrecord=M&perpage=P``
  (the form fields from the page's ``jpage`` call; a request without them is
  answered 400).  通知公告 documents are 信息公开 pages: a 索引号 / 发文机关 / 成文日期 …
  table (one of them ``<li>`` rows) and attachments, served under
  ``/module/download/downfile.jsp?…filename=…`` and ``/attach/0/…``.
- ``www.qinglan.gov.cn``: 青岚县人民政府, a county site on TRS WCM.  Its list
  ``/xwzx/xzdt/index.html``, ``index_1.html`` pages with ``createPageHTML``; two
  articles are split over pages (``t…_1.html``, ``t…_2.html``): one with a pager of
  links, one with a ``createPageHTML`` pager script; a third names a page
  (``…_2.html``) the server does not have (404).

``CmsPortals.expected()`` is the ground truth: every article with the record it
should give (title, published_at, source, text, pages, attachments with the
SHA-256 of their bytes, xxgk).  The markup is written for the replica in the
styles of those systems, not copied from any portal.
"""

from __future__ import annotations

import hashlib
import html
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

if TYPE_CHECKING:
    from crawler.replica.server import ReplicaRequestHandler

HANWEB_HOST = "sft.dongshan.gov.cn"
TRS_HOST = "www.qinglan.gov.cn"
HOSTS = (HANWEB_HOST, TRS_HOST)
HTML = [("Content-Type", "text/html; charset=utf-8")]
ROBOTS = b"User-agent: *\nDisallow: /module/search/\n"


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@dataclass
class Doc:
    """One article of a CMS portal and the record it should give."""

    path: str
    title: str
    date: str  # as the info line or the 信息公开 table shows it (YYYY-MM-DD[ HH:MM])
    source: str | None
    pages: list[list[str]]  # paragraphs of each page
    xxgk: dict[str, str | None] = field(default_factory=dict)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)  # (path, name, bytes)
    missing_pages: list[int] = field(default_factory=list)  # page numbers the pager names, 404
    pager: str = "numbers"  # TRS pager: "numbers", "script" (createPageHTML), "next" (下一页)

    @property
    def stem(self) -> str:
        return self.path.rsplit("/", 1)[1].removesuffix(".html")

    def page_path(self, n: int) -> str:
        return self.path if n == 0 else self.path.replace(".html", f"_{n}.html")


def _pdf(title: str) -> bytes:
    body = f"BT /F1 12 Tf 72 720 Td ({quote(title)}) Tj ET"
    return (
        "%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        "2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
        f"3 0 obj <</Type /Page /Parent 2 0 R /Contents 4 0 R>> endobj\n"
        f"4 0 obj <</Length {len(body)}>> stream\n{body}\nendstream endobj\ntrailer <</Root 1 0 R>>\n"
        "%%EOF\n"
    ).encode("ascii")


def _office(name: str, kind: str) -> bytes:
    # a ZIP local-file header and the document's name: enough to be a distinct file
    return b"PK\x03\x04\x14\x00\x00\x00" + f"[{kind}] {name}".encode() + b"\x00" * 64


NEWS = [
    Doc(
        "/art/2024/3/12/art_1229_58231.html",
        "全省司法行政系统部署开展矛盾纠纷排查化解专项行动",
        "2024-03-12 09:40",
        "东山省司法厅",
        [
            [
                "3月11日，全省司法行政系统矛盾纠纷排查化解专项行动部署会在省城召开，会议以视频形式开到县级司法局和乡镇司法所。",
                "会议要求，各级司法行政机关要坚持和发展新时代“枫桥经验”，聚焦婚姻家庭、邻里纠纷、劳动争议等重点领域，开展拉网式排查。",
                "专项行动期间，全省将组织人民调解员、法律援助律师和基层法律服务工作者进村入户，做到纠纷早发现、早介入、早化解。",
                "省司法厅将对各地排查化解情况定期通报，对工作不力、造成矛盾激化的地方进行约谈。",
            ]
        ],
    ),
    Doc(
        "/art/2024/3/8/art_1229_58190.html",
        "省司法厅召开全省公共法律服务体系建设推进会",
        "2024-03-08 16:05",
        "东山省司法厅公共法律服务管理处",
        [
            [
                "3月7日，省司法厅召开全省公共法律服务体系建设推进会，总结去年工作成效，部署今年重点任务。",
                "去年全省新建村（社区）公共法律服务工作室一千二百余个，“12348”热线接听群众来电四十六万人次，群众满意率保持在百分之九十八以上。",
                "会议提出，今年要推动公共法律服务向园区、商圈和产业链延伸，为民营企业提供法治体检等精准服务。",
                "各市司法局分管负责同志作了交流发言，并就基层法律服务人才短缺等问题提出了意见建议。",
            ]
        ],
    ),
    Doc(
        "/art/2024/3/5/art_1229_58144.html",
        "全省社区矫正工作会议强调提升精准监管水平",
        "2024-03-05 10:18",
        "东山法治报",
        [
            [
                "3月4日，全省社区矫正工作会议召开，会议通报了全省社区矫正对象再犯罪率持续保持低位运行的情况。",
                "会议强调，要运用信息化监管平台，对社区矫正对象实行分类管理、个别化矫正，防止脱管漏管。",
                "各地要联合人力资源社会保障部门开展技能培训，帮助矫正对象解决就业和生活困难，促进其顺利融入社会。",
                "会上，三个县级社区矫正机构介绍了教育帮扶和心理矫治方面的经验做法。",
            ]
        ],
    ),
    Doc(
        "/art/2024/2/28/art_1229_58071.html",
        "我省启动“法律明白人”培养工程三年行动",
        "2024-02-28 15:30",
        "东山省司法厅普法与依法治理处",
        [
            [
                "近日，省委依法治省办、省司法厅联合印发通知，在全省启动“法律明白人”培养工程三年行动。",
                "根据通知，到二〇二六年底，全省每个行政村将至少培养五名“法律明白人”，优先从村“两委”成员、人民调解员和网格员中选拔。",
                "各地将采取集中授课、以案释法和跟班学习相结合的方式开展培训，培训合格的颁发证书并建立动态管理台账。",
                "“法律明白人”将参与村规民约修订、矛盾纠纷调解和法治宣传，发挥在基层依法治理中的示范带动作用。",
            ]
        ],
    ),
    Doc(
        "/art/2024/2/22/art_1229_58002.html",
        "省司法厅开展行政执法人员资格集中清理",
        "2024-02-22 11:12",
        "东山省司法厅",
        [
            [
                "为规范行政执法主体资格管理，省司法厅近期在全省范围内开展行政执法人员资格集中清理工作。",
                "清理对象包括已调离执法岗位、退休或者连续两年未参加公共法律知识培训考试的持证人员，相关证件一律注销并向社会公告。",
                "截至目前，全省已核查执法证件八万三千余件，注销证件两千一百余件，新申领证件人员全部参加统一考试。",
                "省司法厅表示，将把执法人员资格管理情况纳入法治政府建设年度考核内容。",
            ]
        ],
    ),
    Doc(
        "/art/2024/2/18/art_1229_57960.html",
        "全省法律援助案件质量评查结果出炉",
        "2024-02-18 09:05",
        "东山省法律援助中心",
        [
            [
                "日前，省司法厅组织开展的全省法律援助案件质量评查工作结束，共抽查去年办结的刑事、民事和行政法律援助案件一千五百件。",
                "评查结果显示，优秀案件占比百分之三十一，合格案件占比百分之六十六，不合格案件已全部退回承办机构整改。",
                "评查中发现的阅卷不及时、会见记录不规范等问题，将通过专题培训和案例指导加以解决。",
                "省法律援助中心将建立案件质量评查结果与办案补贴挂钩机制，推动法律援助服务由“有没有”向“好不好”转变。",
            ]
        ],
    ),
]

XXGK_DOCS = [
    Doc(
        "/art/2024/3/6/art_1230_58160.html",
        "东山省司法厅关于印发《全省人民调解工作规范化建设实施方案》的通知",
        "2024-03-06",
        None,
        [
            [
                "各市、县（市、区）司法局，厅机关各处室、直属各单位：",
                "现将《全省人民调解工作规范化建设实施方案》印发给你们，请结合实际认真贯彻落实。实施中遇到的问题，请及时向省司法厅人民参与和促进法治处反映。",
                "方案明确，到今年年底全省乡镇（街道）人民调解委员会规范化建设达标率达到百分之九十以上，行业性专业性调解组织覆盖重点领域。",
                "各地要加强人民调解员队伍建设，落实调解案件补贴和人民调解员工作补贴，保障人民调解工作经费。",
            ]
        ],
        xxgk={
            "index_no": "11530000MB1234567X/2024-00086",
            "publisher": "东山省司法厅",
            "written_at": "2024-03-04",
            "published_at": "2024-03-06",
            "doc_no": "东司发〔2024〕9号",
            "category": "公安、安全、司法/司法",
            "validity": "有效",
        },
        attachments=[
            (
                "/module/download/downfile.jsp?classid=0&filename=20240306091522873.pdf",
                "全省人民调解工作规范化建设实施方案.pdf",
                b"",
            ),
            ("/attach/0/20240306091601245.docx", "附件2：人民调解委员会规范化建设评估表", b""),
        ],
    ),
    Doc(
        "/art/2024/2/27/art_1230_58060.html",
        "关于公布2023年度全省法治宣传教育示范基地名单的公告",
        "2024-02-27",
        None,
        [
            [
                "根据《全省法治宣传教育示范基地管理办法》，经各地推荐、实地评估和社会公示，确定省宪法宣传馆等二十个单位为二〇二三年度全省法治宣传教育示范基地。",
                "各示范基地要发挥阵地优势，常态化开展宪法、民法典等法律法规宣传活动，每年接待群众参观学习不少于五千人次。",
                "省司法厅将对示范基地实行动态管理，每三年复核一次，复核不合格的撤销命名。",
            ]
        ],
        xxgk={
            "index_no": "11530000MB1234567X/2024-00071",
            "publisher": "东山省司法厅",
            "written_at": "2024-02-26",
            "published_at": "2024-02-27",
            "doc_no": None,
            "category": "公安、安全、司法/普法",
            "validity": None,
        },
        attachments=[
            ("/attach/0/20240227150233108.xlsx", "2023年度全省法治宣传教育示范基地名单.xlsx", b""),
        ],
    ),
    Doc(
        "/art/2024/2/20/art_1230_57988.html",
        "东山省司法厅关于开展2024年度全省律师事务所年度检查考核工作的通知",
        "2024-02-20",
        None,
        [
            [
                "各市司法局：",
                "根据《律师事务所年度检查考核办法》，现就做好二〇二四年度全省律师事务所年度检查考核工作通知如下。",
                "年度检查考核的对象为二〇二三年十二月三十一日前经司法行政机关批准设立的律师事务所，考核内容包括执业活动、内部管理和党建工作等情况。",
                "各律师事务所应于四月三十日前向住所地县级司法局报送年度执业情况报告，逾期未报送的按有关规定处理。",
            ]
        ],
        xxgk={
            "index_no": "11530000MB1234567X/2024-00058",
            "publisher": "东山省司法厅律师工作处",
            "written_at": "2024-02-19",
            "published_at": "2024-02-20",
            "doc_no": "东司函〔2024〕15号",
            "category": "公安、安全、司法/律师",
            "validity": "有效",
        },
        attachments=[
            (
                "/module/download/downfile.jsp?classid=0&filename=20240220103055612.wps",
                "律师事务所年度执业情况报告（样式）.wps",
                b"",
            ),
            ("/attach/0/20240220103122907.zip", "年度检查考核材料模板.zip", b""),
            ("/attach/0/20240220103140311.ofd", "律师事务所年度检查考核办法.ofd", b""),
        ],
    ),
    Doc(
        "/art/2024/2/9/art_1230_57901.html",
        "关于征求《东山省法律援助条例（修订草案征求意见稿）》意见的公告",
        "2024-02-09",
        None,
        [
            [
                "为增强立法的公开性和透明度，现将《东山省法律援助条例（修订草案征求意见稿）》全文公布，征求社会各界意见。",
                "社会各界可以通过电子邮件、信函等方式提出意见，意见反馈截止时间为二〇二四年三月十日。",
                "征求意见稿对法律援助的范围、申请和审查程序以及法律援助人员的权利义务作了修改完善，进一步扩大了民事、行政法律援助覆盖面。",
                "提出意见时请注明姓名和联系方式，省司法厅将对收到的意见认真研究吸纳。",
            ]
        ],
        xxgk={
            "index_no": "11530000MB1234567X/2024-00040",
            "publisher": "东山省司法厅立法一处",
            "written_at": None,
            "published_at": "2024-02-09",
            "doc_no": None,
            "category": "公安、安全、司法/立法",
            "validity": None,
        },
        attachments=[
            (
                "/module/download/downfile.jsp?classid=0&filename=20240209170412577.doc",
                "东山省法律援助条例（修订草案征求意见稿）.doc",
                b"",
            ),
        ],
    ),
]

TRS_DOCS = [
    Doc(
        "/xwzx/xzdt/202403/t20240314_4261022.html",
        "青岚县召开2024年平安建设工作推进会",
        "2024-03-14 17:20",
        "青岚县委政法委",
        [
            [
                "3月14日，青岚县召开二〇二四年平安建设工作推进会，县委常委、政法委书记出席会议并讲话。",
                "会议回顾了去年全县平安建设工作，全县刑事案件立案数同比下降百分之十二，群众安全感测评位居全市前列。",
                "会议指出，今年要以创建全国平安县为目标，深入推进社会治安整体防控，严厉打击电信网络诈骗等突出违法犯罪。",
            ],
            [
                "会议要求，各乡镇要落实平安建设属地责任，健全乡镇综治中心实体化运行机制，把矛盾纠纷化解在基层。",
                "县直各部门要按照“谁主管谁负责”的原则，抓好行业领域安全隐患排查整治，确保不发生重大安全事故。",
                "县公安局要加强巡逻防控，在城区主要路段和学校、医院周边设置警务工作站，提高见警率和管事率。",
            ],
            [
                "会上，县委政法委与各乡镇、县直有关部门签订了平安建设目标责任书。",
                "石桥镇、县教育局、县卫生健康局负责同志作了表态发言。",
            ],
        ],
        pager="script",
    ),
    Doc(
        "/xwzx/xzdt/202403/t20240311_4258730.html",
        "青岚县开展“民法典进乡村”巡回宣讲活动",
        "2024-03-11 10:45",
        "青岚县司法局",
        [
            [
                "为推动民法典深入人心，青岚县司法局近日组织普法讲师团深入各乡镇开展“民法典进乡村”巡回宣讲活动。",
                "宣讲团成员结合土地承包、婚姻继承和邻里相邻关系等农村常见纠纷，用身边案例讲解民法典相关规定。",
            ],
            [
                "活动现场还设置了法律咨询台，律师和基层法律服务工作者现场解答群众提出的法律问题，发放宣传资料三千余份。",
                "据了解，巡回宣讲活动将持续到六月底，覆盖全县一百零二个行政村。",
            ],
        ],
    ),
    Doc(
        "/xwzx/xzdt/202403/t20240307_4254415.html",
        "县人民法院巡回审判走进田间地头",
        "2024-03-07 15:10",
        "青岚县人民法院",
        [
            [
                "3月6日，青岚县人民法院在白云乡一处果园里开庭审理了一起农资买卖合同纠纷案，近百名村民旁听了庭审。",
                "该案原告购买的化肥质量不合格，导致果树减产，双方因赔偿数额协商不成诉至法院。",
                "庭审中，法官组织双方当事人举证质证，并结合农业部门出具的鉴定意见进行了调解。",
            ],
            [
                "经过调解，被告当场同意赔偿原告损失一万八千元，双方握手言和。",
                "庭审结束后，法官就如何鉴别农资质量、保存购买凭证等问题为村民进行了现场讲解。",
            ],
        ],
        missing_pages=[2],
    ),
    Doc(
        "/xwzx/xzdt/202403/t20240304_4250187.html",
        "青岚县检察院开展公益诉讼专项监督",
        "2024-03-04 09:30",
        "青岚县人民检察院",
        [
            [
                "近日，青岚县人民检察院启动饮用水水源地保护公益诉讼专项监督活动，重点排查水源保护区内违法建设和排污问题。",
                "专项活动中，检察干警会同生态环境、水利部门对全县十四处集中式饮用水水源地逐一实地走访，发现问题线索九条。",
                "对排查发现的问题，县检察院已依法向相关行政机关发出诉前检察建议，督促其依法履行监管职责。",
                "县检察院表示，将持续跟进监督，确保群众饮水安全。",
            ]
        ],
    ),
    Doc(
        "/xwzx/xzdt/202402/t20240227_4243378.html",
        "县公安局破获一起跨省电信网络诈骗案",
        "2024-02-27 18:02",
        "青岚县公安局",
        [
            [
                "近日，青岚县公安局成功破获一起跨省电信网络诈骗案，抓获犯罪嫌疑人七名，冻结涉案资金一百二十余万元。",
                "今年一月，县内群众王某接到自称“客服”的电话，被以退款为由诱导转账，被骗五万余元。",
                "接到报案后，县公安局成立专案组，经过一个多月的连续工作，在外省抓获了为诈骗团伙提供银行卡的犯罪嫌疑人。",
                "警方提醒，凡是要求转账汇款的“客服”电话都要提高警惕，及时拨打反诈专线核实。",
            ]
        ],
    ),
    Doc(
        "/xwzx/xzdt/202402/t20240221_4238806.html",
        "青岚县人民调解委员会化解一起多年土地纠纷",
        "2024-02-21 11:36",
        "青岚县司法局",
        [
            [
                "近日，青岚县东坪镇人民调解委员会成功化解一起持续五年的土地承包经营权纠纷。",
                "纠纷双方是同村的两户村民，因承包地边界不清多次发生争执，曾先后到镇村两级反映。",
            ],
            [
                "受理纠纷后，调解员调取了二轮土地承包合同和确权登记资料，会同村干部和双方当事人实地测量。",
                "调解员还邀请了村里德高望重的老党员参与调解，从邻里情谊、法律规定等方面耐心做工作。",
            ],
            [
                "经过三次调解，双方对边界划定达成一致，当场签订了调解协议，并在地头重新埋设了界桩。",
                "镇司法所表示，将对协议履行情况进行回访，防止纠纷反弹。",
            ],
        ],
        pager="next",
    ),
]

for _doc in XXGK_DOCS:
    _doc.attachments = [
        (path, name, _pdf(name) if path.endswith(".pdf") else _office(name, path.rsplit(".", 1)[1]))
        for path, name, _ in _doc.attachments
    ]

# --- Hanweb -------------------------------------------------------------------------

COLUMNS = {
    1229: ("工作动态", NEWS, 2, 1),  # name, documents, perPage, groupSize
    1230: ("通知公告", XXGK_DOCS, 1, 2),
}
JPAGE_FORM = {
    "col": "1",
    "appid": "1",
    "webid": "3",
    "path": "/",
    "sourceContentType": "1",
    "unitid": "214471",
    "webname": "东山省司法厅",
    "permissiontype": "0",
}

_HANWEB_HEAD = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<title>{title}</title>
<meta name="SiteName" content="东山省司法厅" /><meta name="SiteDomain" content="sft.dongshan.gov.cn" />
<meta name="ColumnName" content="{column}" />
{metas}<link href="/script/0/2103151047325523.css" rel="stylesheet" type="text/css" />
<script type="text/javascript" src="/module/jslib/jquery/jquery.js"></script>
</head><body>
<div class="top"><div class="logo"><img src="/picture/0/logo.png" alt="东山省司法厅" /></div>
<div class="search"><form action="/module/search/index.jsp"><input name="q" /><input type="submit" value="搜索" /></form></div></div>
<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/col/col1229/index.html">工作动态</a></li>
<li><a href="/col/col1230/index.html">通知公告</a></li><li><a href="/col/col1231/index.html">政策解读</a></li>
<li><a href="/col/col1232/index.html">互动交流</a></li></ul></div>
"""
_HANWEB_FOOT = """<div class="footer"><p>主办：东山省司法厅　地址：东山省江城市滨河路18号　邮编：650021</p>
<p>网站标识码：5300000021　东ICP备05001234号　东公网安备 53010202000321号</p>
<p><a href="/attach/0/wzsyzn.pdf">网站使用指南.pdf</a></p></div>
</body></html>"""


def _hanweb_record(doc: Doc) -> str:
    day = doc.date[:10]
    return (
        f"<li><a href='{doc.path}' title='{html.escape(doc.title, quote=True)}' "
        f"target='_blank'>{html.escape(doc.title)}</a><span class='bt-data'>{day}</span></li>"
    )


def _xml_records(docs: list[Doc]) -> str:
    return "".join(f"<record><![CDATA[{_hanweb_record(d)}]]></record>\n" for d in docs)


def hanweb_column(colid: int) -> str:
    name, docs, per_page, group = COLUMNS[colid]
    embedded = docs[: per_page * group]
    query = "&".join(f"{k}={quote(v)}" for k, v in {**JPAGE_FORM, "columnid": str(colid)}.items())
    return (
        _HANWEB_HEAD.format(title=f"{name} 东山省司法厅", column=name, metas="")
        + f"""<div class="main"><div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/col/col{colid}/index.html">{name}</a></div>
<div class="bt-list"><h2>{name}</h2>
<div id="{385000 + colid}"><script type="text/xml"><datastore>
<nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&{query}"></a>]]></nextgroup>
<recordset>
{_xml_records(embedded)}</recordset></datastore></script></div>
<script language="javascript" src="/module/web/jpage/jpage.js"></script>
<script>
$(document).ready(function(){{
  $('#{385000 + colid}').jpage({{
    dataStore: dataStore, perPage: {per_page}, groupSize: {group}, totalRecord: {len(docs)},
    proxyUrl: '/module/web/jpage/dataproxy.jsp', barPosition: 'bottom', showMode: 'full',
    ajaxParam: {{col:1, appid:1, webid:3, path:'/', columnid:{colid}, sourceContentType:1,
      unitid:214471, webname:'东山省司法厅', permissiontype:0}}
  }});
}});
</script></div></div>
"""
        + _HANWEB_FOOT
    )


def dataproxy(colid: int, start: int, end: int) -> str:
    _, docs, _, _ = COLUMNS[colid]
    chosen = docs[start - 1 : end]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<datastore>\n'
        f"<totalrecord>{len(docs)}</totalrecord><totalpage>{len(docs)}</totalpage>\n"
        f"<recordset>\n{_xml_records(chosen)}</recordset>\n</datastore>\n"
    )


def _xxgk_block(doc: Doc, rows: bool) -> str:
    x = {k: (v or "") for k, v in doc.xxgk.items()}

    def cn(date: str) -> str:
        return f"{date[:4]}年{date[5:7]}月{date[8:10]}日" if date else ""

    if rows:
        return f"""<div class="xxgk-info"><ul>
<li><b>索 引 号：</b><span>{x["index_no"]}</span></li>
<li><b>发布机构：</b><span>{x["publisher"]}</span></li>
<li><b>主题分类：</b><span>{x["category"]}</span></li>
<li><b>发布日期：</b><span>{x["published_at"]}</span></li>
<li><b>文　　号：</b><span>{x["doc_no"] or "无"}</span></li>
</ul></div>"""
    return f"""<table class="xxgk_table" cellspacing="0" cellpadding="0" width="100%">
<tr><td class="bt">索 引 号：</td><td class="nr">{x["index_no"]}</td><td class="bt">主题分类：</td><td class="nr">{x["category"]}</td></tr>
<tr><td class="bt">发文机关：</td><td class="nr">{x["publisher"]}</td><td class="bt">成文日期：</td><td class="nr">{cn(x["written_at"])}</td></tr>
<tr><td class="bt">标　　题：</td><td class="nr" colspan="3">{html.escape(doc.title)}</td></tr>
<tr><td class="bt">发文字号：</td><td class="nr">{x["doc_no"]}</td><td class="bt">发布日期：</td><td class="nr">{cn(x["published_at"])}</td></tr>
<tr><td class="bt">有 效 性：</td><td class="nr">{x["validity"]}</td><td class="bt"></td><td class="nr"></td></tr>
</table>"""


def hanweb_article(doc: Doc, colid: int) -> str:
    name = COLUMNS[colid][0]
    paragraphs = "\n".join(f"<p style='text-indent:2em;'>{p}</p>" for p in doc.pages[0])
    if doc.xxgk:
        top = _xxgk_block(doc, rows=doc is XXGK_DOCS[3])
        info = ""
    else:
        top = ""
        info = (
            f"<div class='article-info'><span>发布时间：{doc.date}</span>"
            f"<span>来源：{doc.source}</span><span>浏览次数：<script>document.write(218)</script>"
            "</span><span>字号：<a>大</a> <a>中</a> <a>小</a></span></div>"
        )
    attach = ""
    if doc.attachments:
        links = "\n".join(
            f"<p><a href='{html.escape(p, quote=True)}' target='_blank'>{html.escape(n)}</a></p>"
            for p, n, _ in doc.attachments
        )
        attach = f"<div class='fj'><p>附件：</p>\n{links}</div>"
    metas = (
        (
            f'<meta name="ArticleTitle" content="{html.escape(doc.title, quote=True)}" />\n'
            f'<meta name="PubDate" content="{doc.date}" />\n'
        )
        if not doc.xxgk
        else ""
    )
    return (
        _HANWEB_HEAD.format(title=f"{doc.title} {name} 东山省司法厅", column=name, metas=metas)
        + f"""<div class="main"><div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/col/col{colid}/index.html">{name}</a></div>
{top}
<div class="article"><h1 class="title">{html.escape(doc.title)}</h1>
{info}
<div class="article-content" id="zoom">
<!--ZJEG_RSS.content.begin--><meta name="ContentStart">
{paragraphs}
<meta name="ContentEnd"><!--ZJEG_RSS.content.end-->
</div>
{attach}
<div class="article-tools"><a href="javascript:window.print()">【打印本页】</a> <a href="javascript:window.close()">【关闭窗口】</a></div>
</div></div>
"""
        + _HANWEB_FOOT
    )


# --- TRS ------------------------------------------------------------------------------

TRS_LIST_SIZE = 3

_TRS_HEAD = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta name="SiteName" content="青岚县人民政府"><meta name="ColumnName" content="乡镇动态">
{metas}<link rel="stylesheet" href="/images/qlxzf_style.css"></head><body>
<div class="header"><div class="wrap"><img src="/images/qlx_logo.png" alt="青岚县人民政府">
<div class="topnav"><a href="/">首页</a> <a href="/zwgk/">政务公开</a> <a href="/xwzx/">新闻中心</a> <a href="/hdjl/">互动交流</a></div></div></div>
"""
_TRS_FOOT = """<div class="footer"><p>主办单位：青岚县人民政府办公室　承办单位：青岚县融媒体中心</p>
<p>网站标识码：5323000012　东ICP备09004321号-1</p></div></body></html>"""


def trs_list(page: int) -> str:
    docs = TRS_DOCS[page * TRS_LIST_SIZE : (page + 1) * TRS_LIST_SIZE]
    total = -(-len(TRS_DOCS) // TRS_LIST_SIZE)
    items = "\n".join(
        f'<li><a href=".{d.path.removeprefix("/xwzx/xzdt")}" target="_blank" '
        f'title="{html.escape(d.title, quote=True)}">{html.escape(d.title)}</a>'
        f"<span>{d.date[:10]}</span></li>"
        for d in docs
    )
    return (
        _TRS_HEAD.format(title="乡镇动态_青岚县人民政府", metas="")
        + f"""<div class="wrap"><div class="location">您当前的位置：<a href="/">首页</a> &gt; <a href="../">新闻中心</a> &gt; 乡镇动态</div>
<div class="list"><ul class="list_ul">
{items}
</ul>
<div class="page"><script type="text/javascript">
var countPage = {total}; var currentPage = {page};
createPageHTML(countPage, currentPage, "index", "html");
</script></div></div></div>
"""
        + _TRS_FOOT
    )


def trs_article(doc: Doc, n: int) -> str:
    count = len(doc.pages) + len(doc.missing_pages)
    paragraphs = "\n".join(f"<p>{p}</p>" for p in doc.pages[n])
    if count == 1:
        pager = ""
    elif doc.pager == "next":
        # only 上一页 / 下一页: each page names its neighbours, the first page only the second
        prev = "" if n == 0 else (f"{doc.stem}.html" if n == 1 else f"{doc.stem}_{n - 1}.html")
        links = [f'<a href="{prev}">上一页</a>'] if prev else []
        if n + 1 < count:
            links.append(f'<a href="{doc.stem}_{n + 1}.html">下一页</a>')
        pager = f"<div class='page_fy'>{' '.join(links)}</div>"
    elif doc.pager == "script":
        # the pager of TRS templates: a script that writes the page links
        pager = (
            "<div class='fy' id='fy'></div><script type='text/javascript'>"
            f"var currentPage = {n}; var countPage = {count};\n"
            f'createPageHTML(countPage, currentPage, "{doc.stem}", "html");</script>'
        )
    else:
        links = []
        for k in range(count):
            href = f"{doc.stem}.html" if k == 0 else f"{doc.stem}_{k}.html"
            links.append(f"<span>{k + 1}</span>" if k == n else f'<a href="{href}">{k + 1}</a>')
        if n + 1 < count:
            links.append(f'<a href="{doc.stem}_{n + 1}.html">下一页</a>')
        pager = f"<div class='page_fy'>{' '.join(links)}</div>"
    metas = (
        f'<meta name="ArticleTitle" content="{html.escape(doc.title, quote=True)}">\n'
        f'<meta name="PubDate" content="{doc.date}">\n<meta name="ContentSource" content="{doc.source}">\n'
    )
    return (
        _TRS_HEAD.format(title=f"{doc.title}_青岚县人民政府", metas=metas)
        + f"""<div class="wrap"><div class="location">您当前的位置：<a href="/">首页</a> &gt; <a href="/xwzx/">新闻中心</a> &gt; <a href="/xwzx/xzdt/">乡镇动态</a></div>
<div class="article"><h2 class="tit">{html.escape(doc.title)}</h2>
<div class="info"><span>发布时间：{doc.date}</span><span>来源：{doc.source}</span></div>
<div class="view TRS_UEDITOR trs_paper_default trs_web">
{paragraphs}
</div>
{pager}
<div class="share"><a href="javascript:window.print()">打印</a> <a href="javascript:window.close()">关闭</a></div>
</div></div>
"""
        + _TRS_FOOT
    )


# --- serving ----------------------------------------------------------------------------


def _hanweb_pages() -> dict[str, tuple[int, bytes, list[tuple[str, str]]]]:
    pages: dict[str, tuple[int, bytes, list[tuple[str, str]]]] = {}
    for colid, (_, docs, _, _) in COLUMNS.items():
        pages[f"/col/col{colid}/index.html"] = (200, hanweb_column(colid).encode(), HTML)
        for doc in docs:
            pages[doc.path] = (200, hanweb_article(doc, colid).encode(), HTML)
            for path, name, data in doc.attachments:
                kind = "application/pdf" if path.endswith(".pdf") else "application/octet-stream"
                disposition = f"attachment; filename*=UTF-8''{quote(name)}"
                key = path.split("&filename=")[-1] if "downfile.jsp" in path else path
                pages[key] = (
                    200,
                    data,
                    [("Content-Type", kind), ("Content-Disposition", disposition)],
                )
    pages["/attach/0/wzsyzn.pdf"] = (
        200,
        _pdf("网站使用指南"),
        [("Content-Type", "application/pdf")],
    )
    return pages


def _trs_pages() -> dict[str, tuple[int, bytes, list[tuple[str, str]]]]:
    pages: dict[str, tuple[int, bytes, list[tuple[str, str]]]] = {}
    total = -(-len(TRS_DOCS) // TRS_LIST_SIZE)
    for n in range(total):
        name = "index.html" if n == 0 else f"index_{n}.html"
        pages[f"/xwzx/xzdt/{name}"] = (200, trs_list(n).encode(), HTML)
    for doc in TRS_DOCS:
        for n in range(len(doc.pages)):
            pages[doc.page_path(n)] = (200, trs_article(doc, n).encode(), HTML)
    return pages


PAGES = {HANWEB_HOST: _hanweb_pages(), TRS_HOST: _trs_pages()}
_NOT_FOUND = (
    b"<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>"
    b"<p>\xe6\x82\xa8\xe8\xae\xbf\xe9\x97\xae\xe7\x9a\x84\xe9\xa1\xb5\xe9\x9d\xa2\xe4\xb8\x8d"
    b"\xe5\xad\x98\xe5\x9c\xa8</p></body></html>"
)


def handle(
    handler: ReplicaRequestHandler, method: str, host: str, path: str, query: str, body: bytes
) -> None:
    """Answer one request for a CMS portal (module doc)."""
    if path == "/robots.txt":
        handler.send_bytes(200, ROBOTS, [("Content-Type", "text/plain")])
        return
    if host == HANWEB_HOST and path == "/module/web/jpage/dataproxy.jsp":
        _dataproxy(handler, method, query, body)
        return
    if host == HANWEB_HOST and path == "/module/download/downfile.jsp":
        params = parse_qs(query)
        path = params.get("filename", [""])[0]
    if path.endswith("/") and path + "index.html" in PAGES[host]:
        path += "index.html"
    found = PAGES[host].get(path)
    if found is None or method not in ("GET", "HEAD"):
        handler.send_bytes(404 if found is None else 405, _NOT_FOUND, HTML)
        return
    status, data, headers = found
    handler.send_bytes(status, data, headers)


def _dataproxy(handler: ReplicaRequestHandler, method: str, query: str, body: bytes) -> None:
    params = parse_qs(query)
    form = parse_qs(body.decode("utf-8", "replace")) if method == "POST" else {}
    try:
        start = int(params["startrecord"][0])
        end = int(params["endrecord"][0])
        int(params["perpage"][0])
        colid = int(form["columnid"][0])
    except (KeyError, ValueError):
        handler.send_bytes(400, b"bad request", [("Content-Type", "text/plain")])
        return
    wrong = [k for k, v in JPAGE_FORM.items() if form.get(k, [None])[0] != v]
    if method != "POST" or colid not in COLUMNS or wrong or start < 1 or end < start:
        handler.send_bytes(400, b"bad request", [("Content-Type", "text/plain")])
        return
    text = dataproxy(colid, start, end)
    handler.send_bytes(200, text.encode("utf-8"), [("Content-Type", "text/xml;charset=UTF-8")])


# --- ground truth ------------------------------------------------------------------------


def _timestamp(date: str) -> str:
    if len(date) == 10:
        return f"{date}T00:00:00+08:00"
    return f"{date[:10]}T{date[11:16]}:00+08:00"


def expected() -> dict[str, list[dict[str, Any]]]:
    """The record every article of the two portals should give, by host, newest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    for host, docs in ((HANWEB_HOST, NEWS + XXGK_DOCS), (TRS_HOST, TRS_DOCS)):
        base = f"http://{host}"
        entries = []
        for doc in docs:
            fetched = list(range(len(doc.pages)))
            xxgk = dict.fromkeys(
                ("index_no", "publisher", "written_at", "published_at", "doc_no", "category",
                 "validity")
            )  # fmt: skip
            xxgk.update(doc.xxgk)
            entries.append(
                {
                    "url": base + doc.path,
                    "title": _nfkc(doc.title),
                    "published_at": _timestamp(doc.date),
                    "source": doc.source or doc.xxgk.get("publisher"),
                    "text": "\n".join(_nfkc(p) for n in fetched for p in doc.pages[n]),
                    "pages": [base + doc.page_path(n) for n in fetched],
                    "missing_pages": [base + doc.page_path(n) for n in doc.missing_pages],
                    "attachments": [
                        {
                            "url": base + path,
                            "name": _nfkc(name),
                            "ext": path.rsplit(".", 1)[1].lower(),
                            "sha256": hashlib.sha256(data).hexdigest(),
                        }
                        for path, name, data in doc.attachments
                    ],
                    "xxgk": xxgk,
                }
            )
        out[host] = entries
    return out


# --- the missing page of the TRS article: its pager names it, the server has none ----------


def _check() -> None:
    for doc in TRS_DOCS:
        for n in doc.missing_pages:
            assert doc.page_path(n) not in PAGES[TRS_HOST]


_check()
