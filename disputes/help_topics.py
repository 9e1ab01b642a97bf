"""The Help & Support Center's topics (R21, R22, R24): every topic of the FAQ in shared/seed.

Texts are English msgids faithful to the Korean FAQ; the Korean catalogue gives them back in
Korean. Each topic links to the page that does what it explains (URL names of
billing_centre/urls.py and the apps). ``help_search`` searches the topics server-side in
Korean and English at once, so a visitor finds a topic whichever language they type in.
``keywords_ko`` are search words only (never shown): they let Korean searches work
even where a translation is still missing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from core.money import format_money

# Paper invoices (R13, R14): the fee and its dates as the FAQ states them for Korea.
PRINT_FEE_AMOUNT = ("13000", "KRW")
PRINT_FEE_FROM = datetime.date(2024, 12, 29)
PRINT_FEE_ENROL_BY = datetime.date(2024, 12, 20)


def _params() -> dict[str, str]:
    return {
        "phone": settings.BILLING_SUPPORT_PHONE,
        "fee": format_money(*PRINT_FEE_AMOUNT),
        "fee_from": PRINT_FEE_FROM.isoformat(),
        "enrol_by": PRINT_FEE_ENROL_BY.isoformat(),
    }


@dataclass(frozen=True)
class HelpLink:
    url_name: str
    label: str
    anchor: str = ""

    def url(self) -> str | None:
        try:
            return reverse(self.url_name) + (f"#{self.anchor}" if self.anchor else "")
        except NoReverseMatch:  # pragma: no cover - a page not built yet; the link is left out
            return None


@dataclass(frozen=True)
class HelpTopic:
    slug: str
    section: str
    title: str
    paragraphs: tuple[str, ...]
    links: tuple[HelpLink, ...] = ()
    keywords_ko: str = ""

    def text(self) -> tuple[str, list[str]]:
        """(title, paragraphs) in the active language, with the facts filled in."""
        params = _params()
        paragraphs = [str(p) % params if "%(" in str(p) else str(p) for p in self.paragraphs]
        return str(self.title), paragraphs


@dataclass
class RenderedTopic:
    topic: HelpTopic
    title: str
    paragraphs: list[str]
    links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.topic.slug


SECTIONS: tuple[tuple[str, str], ...] = (
    ("start", _("Getting started")),
    ("invoices", _("Invoices")),
    ("payments", _("Payments")),
    ("disputes", _("Disputes and support")),
    ("admin", _("Administration")),
)

TOPICS: tuple[HelpTopic, ...] = (
    # --- Getting started -----------------------------------------------------------------
    HelpTopic(
        slug="about",
        section="start",
        title=_("What can I do in Billing Centre?"),
        paragraphs=(
            _("In Billing Centre you can view invoices, manage payment methods and pay the amounts billed."),
            _("View and pay invoices: you can pay an amount billed without logging in, with Pay Now."),
            _("Opening a new account number enrols it in Billing Centre automatically."),
        ),
        links=(HelpLink("dashboard", _("Dashboard")), HelpLink("pay_now", _("Pay Now"))),
        keywords_ko="빌링 센터 청구서 확인 지불 방법 관리 자동 등록",
    ),
    HelpTopic(
        slug="enrol-with-invoice",
        section="start",
        title=_("How do I enrol with an invoice?"),
        paragraphs=(
            _(
                "If you have an invoice from us but have not enrolled in Billing Centre, you need an invoice "
                "issued in the last 45 days. During enrolment you enter some values printed on it: the account "
                "number, invoice number, invoice date, amount due and control ID."
            ),
            _(
                "Enter each value exactly as it is printed on the invoice. When you complete every step you "
                "are enrolled at once and can use Billing Centre."
            ),
        ),
        links=(HelpLink("enroll", _("Enrol with an invoice")),),
        keywords_ko="등록 청구서 45일 컨트롤 ID 청구서 번호 금액",
    ),
    HelpTopic(
        slug="enrol-without-invoice",
        section="start",
        title=_("How do I enrol without an invoice?"),
        paragraphs=(
            _(
                "If you have not received an invoice from us, first create a user ID, then open an account "
                "number. If you already have a user ID, go straight to opening an account number."
            ),
            _("Opening a new account number enrols it in Billing Centre automatically."),
        ),
        links=(
            HelpLink("account_signup", _("Create a user ID")),
            HelpLink("enroll_new_account", _("Open a new account")),
        ),
        keywords_ko="청구서 없음 사용자 ID 만들기 고객번호 개설",
    ),
    # --- Invoices --------------------------------------------------------------------------
    HelpTopic(
        slug="find-invoices",
        section="invoices",
        title=_("How do I find my invoices?"),
        paragraphs=(
            _(
                "After logging in, choose My Account Invoices or My Plan Invoices. All the details are laid "
                "out in a table with sortable column headers, a search and filters to find what you need."
            ),
            _(
                "Use the search, the filters and the calendar to narrow the results, and click a column "
                "header to sort by that column. To print or download, choose the option in the Actions menu "
                "in the right-hand column."
            ),
        ),
        links=(
            HelpLink("invoices:account_list", _("My Account Invoices")),
            HelpLink("invoices:plan_list", _("My Plan Invoices")),
        ),
        keywords_ko="청구서 찾기 검색 필터 정렬 캘린더 인쇄 다운로드 작업 메뉴 내 고객번호 청구서 내 플랜 청구서",
    ),
    HelpTopic(
        slug="temporary-number",
        section="invoices",
        title=_("Can I pay an invoice of a 10-digit account number?"),
        paragraphs=(
            _(
                "A 10-digit account number is a temporary account number: it cannot be paid online. "
                "Please contact the billing contact printed on the invoice."
            ),
            _(
                "Where Billing Centre cannot take a payment, it says so: call the contact printed on the "
                "invoice to pay the amount billed."
            ),
        ),
        links=(HelpLink("help", _("How to reach billing support"), anchor="contact"),),
        keywords_ko="10자리 임시 고객번호 결제 불가 연락처",
    ),
    HelpTopic(
        slug="paperless",
        section="invoices",
        title=_("Paperless invoices and the invoice print fee"),
        paragraphs=(
            _(
                "We are proud to be an environmentally responsible organisation and work to reduce the paper "
                "we use every day, month and year. Offering all billing information, invoices included, "
                "online is one of the ways we do it."
            ),
            _(
                "If you need a paper copy of an invoice, the fastest and easiest way is to download and print "
                "it: on My Plan Invoices or My Account Invoices, select invoices with the check boxes, choose "
                "Download selected, choose a format and download. You can then print and keep the invoices."
            ),
            _(
                "However, if you need to receive invoices by post, an invoice print fee of %(fee)s per invoice "
                "is charged from %(fee_from)s."
            ),
            _(
                "This decision gives customers more flexibility and control over billing and is part of our "
                "continuing effort to encourage more sustainable practices."
            ),
            _(
                "To avoid the invoice print fee, enrol in Billing Centre by %(enrol_by)s. Enrolling in Billing "
                "Centre declines paper invoices automatically from then on."
            ),
            _("If you are already enrolled in Billing Centre, there is nothing more to do."),
            _("Where it applies, the fee appears on the invoice and its exports as a line 'Invoice print fee'."),
        ),
        links=(
            HelpLink("invoices:account_list", _("Download selected invoices")),
            HelpLink("enroll", _("Enrol in Billing Centre")),
        ),
        keywords_ko="종이 청구서 인쇄 수수료 13,000원 2024년 12월 29일 12월 20일 페이퍼리스 다운로드 선택한 항목",
    ),
    HelpTopic(
        slug="xml",
        section="invoices",
        title=_("How do I get XML invoices?"),
        paragraphs=(
            _(
                "XML is a common way to store, send and share data as plain text. If you need to bring billing "
                "data into your own applications and easily reshape it for a particular use, you can sign up "
                "for invoices in XML."
            ),
            _(
                "To sign up, go to My Accounts or My Plans under Admin. For each account number that should "
                "receive XML invoices, choose Edit XML enrolment in the Actions menu and follow the prompts."
            ),
            _("Once enrolled, you can download XML from My Account Invoices or My Plan Invoices."),
        ),
        links=(
            HelpLink("manage:accounts", _("My Accounts")),
            HelpLink("manage:plans", _("My Plans")),
        ),
        keywords_ko="XML 청구서 등록 편집 관리 내 고객번호 내 플랜",
    ),
    HelpTopic(
        slug="late-fees",
        section="invoices",
        title=_("Where do I see late fees?"),
        paragraphs=(
            _("Log in to Billing Centre to see late fees, or call %(phone)s."),
            _("A late fee appears as a line 'Late fee' on the invoice that carries it."),
        ),
        links=(
            HelpLink("invoices:account_list", _("My Account Invoices")),
            HelpLink("dashboard", _("Dashboard")),
        ),
        keywords_ko="연체 요금 연체료",
    ),
    HelpTopic(
        slug="shipping-history",
        section="invoices",
        title=_("Where do I see my shipping history?"),
        paragraphs=(
            _(
                "If you have a user ID, log in and go to Shipping history. If you do not have a user ID, call %(phone)s."
            ),
        ),
        links=(HelpLink("shipments", _("Shipping history")),),
        keywords_ko="발송 내역 배송 운송장 추적 번호",
    ),
    # --- Payments --------------------------------------------------------------------------
    HelpTopic(
        slug="pay-once",
        section="payments",
        title=_("How do I pay an invoice?"),
        paragraphs=(
            _("To make a one-time payment, choose Pay on the dashboard or in the account or plan invoice views."),
        ),
        links=(HelpLink("payments:pay", _("Make a payment")), HelpLink("dashboard", _("Dashboard"))),
        keywords_ko="일시불 결제 지불 대시보드",
    ),
    HelpTopic(
        slug="autopay",
        section="payments",
        title=_("How do I set up AutoPay?"),
        paragraphs=(
            _(
                "To schedule recurring automatic payments, choose My AutoPay in the side navigation. You can "
                "schedule recurring payments, choose the payment method and set a payment amount limit."
            ),
        ),
        links=(HelpLink("payments:autopay", _("My AutoPay")),),
        keywords_ko="자동 결제 정기 결제 예약 한도 내 자동 결제",
    ),
    HelpTopic(
        slug="pay-now",
        section="payments",
        title=_("Can I pay without logging in?"),
        paragraphs=(
            _(
                "Yes: choose the Pay Now link at the top of the page to pay straight away without logging in. "
                "Enter the details shown on the invoice and your payment details; the payment is done in a few steps."
            ),
        ),
        links=(HelpLink("pay_now", _("Pay Now")),),
        keywords_ko="지금 지불하기 로그인 없이 결제",
    ),
    HelpTopic(
        slug="payment-types",
        section="payments",
        title=_("Which payment types are accepted?"),
        paragraphs=(
            _(
                "We accept many payment types, including credit cards, debit cards, bank direct debit and "
                "online payment services. Note: the payment methods available differ by country."
            ),
        ),
        links=(HelpLink("payments:wallet", _("Wallet")),),
        keywords_ko="지불 유형 신용 카드 직불 카드 은행 자동 이체 온라인 결제 서비스 국가",
    ),
    HelpTopic(
        slug="wallet",
        section="payments",
        title=_("How do I update a card in my wallet?"),
        paragraphs=(
            _(
                "If you pay with Billing Centre's digital wallet, show the wallet in Grid view and choose Edit "
                "under an expired card to update the expiry date of any payment card easily."
            ),
            _(
                "If you are viewing the wallet as a list, find the card to update and choose Edit in the Actions column."
            ),
        ),
        links=(HelpLink("payments:wallet", _("Wallet")),),
        keywords_ko="디지털 월렛 지갑 그리드 만료 카드 편집 유효기간",
    ),
    HelpTopic(
        slug="shipping-card",
        section="payments",
        title=_("How do I update the card for my shipping charges?"),
        paragraphs=(
            _(
                "To update the payment card linked to a shipping account outside Billing Centre, find the card "
                "details in the Accounts and payment options section of your profile. There, choose Edit in the "
                "Actions column to pick the payment method to update."
            ),
        ),
        links=(HelpLink("payment_options", _("Accounts and payment options")),),
        keywords_ko="발송 고객번호 연결 지불 카드 프로필 고객번호 및 지불 옵션",
    ),
    # --- Disputes and support ------------------------------------------------------------------
    HelpTopic(
        slug="disputes",
        section="disputes",
        title=_("How do I dispute a charge?"),
        paragraphs=(
            _(
                "The most efficient way to dispute charges is in Billing Centre: log in and follow the "
                "step-by-step guide of the Help & Support Center below."
            ),
            _(
                "If you have a paper invoice or a 10-digit account number, call the billing support contact "
                "printed on the invoice. If you have no invoice, call %(phone)s."
            ),
        ),
        links=(
            HelpLink("help", _("Step-by-step dispute guide"), anchor="dispute-guide"),
            HelpLink("disputes:list", _("My disputes")),
        ),
        keywords_ko="이의 제기 요금 분쟁 종이 청구서 10자리 청구 지원 연락처 도움말 및 지원 센터",
    ),
    HelpTopic(
        slug="contact",
        section="disputes",
        title=_("How do I reach billing support?"),
        paragraphs=(
            _("You can get the help you need by contacting us at the phone number or e-mail address below."),
            _(
                "About an invoice: call the billing contact printed on the invoice (it is also shown on the "
                "invoice page in Billing Centre). Without an invoice: call %(phone)s."
            ),
        ),
        links=(HelpLink("help", _("Contact details"), anchor="contact"),),
        keywords_ko="연락처 전화 이메일 청구 지원 고객 서비스 080-687-6886",
    ),
    # --- Administration ---------------------------------------------------------------------------
    HelpTopic(
        slug="add-account",
        section="admin",
        title=_("How do I add an account?"),
        paragraphs=(
            _(
                "On the My Accounts page under Admin, choose Add account to start. Make sure you have an "
                "invoice of the account number you are adding, issued in the last 45 days."
            ),
        ),
        links=(HelpLink("manage:account_add", _("Add account")), HelpLink("manage:accounts", _("My Accounts"))),
        keywords_ko="고객번호 추가 관리 45일 청구서",
    ),
    HelpTopic(
        slug="users",
        section="admin",
        title=_("How do I add or remove users?"),
        paragraphs=(
            _(
                "On the User management page under Admin you can add and remove users. Give each new or "
                "existing user one of four roles: Administrator, Manager, View, pay and dispute, or View only."
            ),
            _(
                "Note: before adding a user, make sure you have the user's user ID and e-mail address. You also "
                "choose the account numbers and/or plans the user may see."
            ),
        ),
        links=(HelpLink("manage:users", _("User management")),),
        keywords_ko="사용자 관리 추가 삭제 역할 관리자 매니저 조회 결제 이의 제기 조회 전용 사용자 ID 이메일",
    ),
    HelpTopic(
        slug="backup-administrator",
        section="admin",
        title=_("Why keep a backup administrator?"),
        paragraphs=(
            _(
                "The best way to keep uninterrupted service in Billing Centre is to agree with your "
                "administrator in advance on a backup or second administrator. Billing Centre supports several "
                "administrators, and we recommend giving administrator rights to two or more users."
            ),
            _(
                "Still, an administrator sometimes leaves suddenly. Before you ask your account representative "
                "or customer service for help, have ready the previous administrator's user ID and e-mail "
                "address, and the user ID and e-mail address of the person who will become administrator. With "
                "them, administrator rights can be transferred or assigned to the new user easily."
            ),
        ),
        links=(HelpLink("manage:users", _("User management")),),
        keywords_ko="백업 보조 관리자 퇴사 관리자 권한 양도 할당",
    ),
)

# The step-by-step dispute guide (R21, R24).
DISPUTE_GUIDE_STEPS: tuple[str, ...] = (
    _("Log in and open My Account Invoices or My Plan Invoices."),
    _(
        "Open the invoice and choose Dispute charges (also in the Actions menu of the table). To dispute "
        "several invoices at once for one reason, select them with the check boxes and choose Dispute selected."
    ),
    _(
        "Select the charges you dispute, or the whole invoice. For each, choose a reason and enter the "
        "disputed amount: more than zero and at most the charge."
    ),
    _("Add a comment and, if you have them, attachments: PDF, JPEG or PNG files of at most 5 MB each."),
    _("Submit. You get a dispute reference by e-mail, and the invoice is marked as disputed in the invoice tables."),
    _(
        "Pay the undisputed balance by the due date: the invoice can still be paid. If the dispute is "
        "approved, a credit is posted to the invoice; if the invoice is already paid, the credit stays on "
        "the account and is used first by your next payment."
    ),
    _(
        "Follow the dispute under Disputes: its status (submitted, under review, approved, partly approved "
        "or rejected, closed) and messages with billing staff. You get an e-mail at each status change and "
        "each reply."
    ),
)
DISPUTE_GUIDE_KEYWORDS_KO = "이의 제기 단계 안내 청구서 요금 사유 금액 첨부 파일 상태 승인 거절 크레딧"


def _render(topic: HelpTopic) -> RenderedTopic:
    title, paragraphs = topic.text()
    links = [(url, str(link.label)) for link in topic.links if (url := link.url())]
    return RenderedTopic(topic=topic, title=title, paragraphs=paragraphs, links=links)


def _haystack(topic: HelpTopic) -> str:
    texts = [topic.keywords_ko, topic.slug.replace("-", " ")]
    for language in ("ko", "en"):
        with translation.override(language):
            title, paragraphs = topic.text()
            texts.append(title)
            texts.extend(paragraphs)
            texts.extend(str(link.label) for link in topic.links)
            texts.append(str(dict(SECTIONS)[topic.section]))
    return " ".join(texts).casefold()


def _terms(query: str) -> list[str]:
    return [term for term in query.casefold().split() if term]


def help_search(query: str) -> list[RenderedTopic]:
    """Topics matching every word of ``query`` in Korean or English (all topics when empty)."""
    terms = _terms(query or "")
    topics = [topic for topic in TOPICS if all(term in _haystack(topic) for term in terms)]
    return [_render(topic) for topic in topics]


def help_guide_matches(query: str) -> bool:
    terms = _terms(query or "")
    if not terms:
        return True
    texts = [DISPUTE_GUIDE_KEYWORDS_KO]
    for language in ("ko", "en"):
        with translation.override(language):
            texts.append(str(_("Step-by-step dispute guide")))
            texts.extend(str(step) for step in DISPUTE_GUIDE_STEPS)
    haystack = " ".join(texts).casefold()
    return all(term in haystack for term in terms)


def help_sections(topics: list[RenderedTopic]) -> list[tuple[str, str, list[RenderedTopic]]]:
    """(slug, title, topics) per section in the fixed order, empty sections left out."""
    grouped = []
    for slug, title in SECTIONS:
        members = [t for t in topics if t.topic.section == slug]
        if members:
            grouped.append((slug, str(title), members))
    return grouped
