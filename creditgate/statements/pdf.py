"""A statement as a PDF: the same lines and formatting as its HTML page (``document``).

fpdf2 with its built-in Helvetica, so nothing beyond pip is needed. That font covers Windows-1252
(Western European text, "€", "£", "¥"): a currency whose symbol it lacks ("₹") is written with
its code ("INR 6.00"), and any other character it lacks (in a usage dimension's value) as "?".
"""

from decimal import Decimal

from fpdf import FPDF, FontFace

from creditgate.models import Statement
from creditgate.statements import document
from creditgate.values.display import (
    DEFAULT_LOCALE,
    format_amount,
    format_moment,
    format_quantity,
)

ENCODING = "windows-1252"
# Characters locales use that the font lacks, and what stands in for them.
_STAND_INS = str.maketrans({"\u202f": "\u00a0", "\u2009": "\u00a0", "\u2212": "-"})
_BOLD = FontFace(emphasis="BOLD")
_GREY = (110, 110, 110)


def statement_pdf(statement: Statement, external_id: str, locale: str = DEFAULT_LOCALE) -> bytes:
    """The statement of ``external_id`` as PDF bytes, amounts and dates written for ``locale``."""
    return _Builder(statement, external_id, locale).build()


def _text(value: str) -> str:
    return value.translate(_STAND_INS).encode(ENCODING, "replace").decode(ENCODING)


class _Builder:
    def __init__(self, statement: Statement, external_id: str, locale: str) -> None:
        self.s = statement
        self.customer = external_id
        self.locale = locale
        self.credits = document.in_credits(statement)
        self.pdf = FPDF(format="A4")
        self.pdf.core_fonts_encoding = ENCODING

    def build(self) -> bytes:
        s, pdf = self.s, self.pdf
        pdf.set_title(_text(f"Statement {s.number} for {self.customer}"))
        pdf.set_author("Creditgate")
        pdf.set_lang(self.locale.replace("_", "-"))
        pdf.set_margins(18, 18, 18)
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 20)
        pdf.cell(text=f"Statement {s.number}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        self._facts()
        self._heading("Balance")
        self._balance()
        self._heading("Usage")
        self._usage()
        self._heading("Amount due")
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(text=self._money(s.amount_due, s.currency), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        reference = f" (reference {s.payment_intent})" if s.payment_intent else ""
        self._paragraph(f"Payment status: {document.payment_status(s)}{reference}")
        return bytes(pdf.output())

    def _money(self, amount: Decimal, unit: str, credits: bool = False) -> str:
        shown = format_amount(amount, unit, self.locale, credits=credits)
        if _text(shown) != shown.translate(_STAND_INS):  # a symbol the font lacks
            shown = format_amount(amount, unit, self.locale, credits=credits, symbol=False)
        return _text(shown)

    def _wallet(self, amount: Decimal) -> str:
        return self._money(amount, self.s.unit, self.credits)

    def _facts(self) -> None:
        s = self.s
        facts = [
            ("Customer", self.customer),
            ("Plan", f"{s.plan_code}, version {s.plan_version} ({s.billing})"),
            (
                "Period",
                f"{format_moment(s.period_start, self.locale)} to "
                f"{format_moment(s.period_end, self.locale)}",
            ),
        ]
        if self.credits:
            facts.append(("Balance in", s.unit.replace("_", " ")))
        self.pdf.set_font("Helvetica", "", 10)
        with self.pdf.table(
            col_widths=(1, 4), first_row_as_headings=False, borders_layout="NONE"
        ) as table:
            for label, value in facts:
                row = table.row()
                row.cell(label, style=_BOLD)
                row.cell(_text(value))

    def _heading(self, title: str) -> None:
        self.pdf.ln(5)
        self.pdf.set_font("Helvetica", "B", 13)
        self.pdf.cell(text=title, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)
        self.pdf.set_font("Helvetica", "", 10)

    def _paragraph(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.multi_cell(0, text=_text(text), new_x="LMARGIN", new_y="NEXT")

    def _balance(self) -> None:
        lines = document.balance_lines(self.s)
        with self.pdf.table(
            col_widths=(3, 2),
            text_align=("LEFT", "RIGHT"),
            first_row_as_headings=False,
            borders_layout="HORIZONTAL_LINES",
        ) as table:
            for n, (label, amount) in enumerate(lines):
                style = _BOLD if n == len(lines) - 1 else None
                row = table.row()
                row.cell(label, style=style)
                row.cell(self._wallet(amount), style=style)

    def _usage(self) -> None:
        s, rows = self.s, document.usage_rows(self.s)
        if not rows:
            self._paragraph("No usage in this period.")
        else:
            with self.pdf.table(
                col_widths=(6, 2, 2),
                text_align=("LEFT", "RIGHT", "RIGHT"),
                v_align="TOP",
                borders_layout="HORIZONTAL_LINES",
                headings_style=FontFace(emphasis="BOLD", color=_GREY),
            ) as table:
                table.row(["Meter", "Quantity", "Amount"])
                for line in rows:
                    meter = f"{line.meter}\n{line.dimensions}" if line.dimensions else line.meter
                    table.row(
                        [
                            _text(meter),
                            _text(format_quantity(line.quantity, self.locale)),
                            self._wallet(line.amount),
                        ]
                    )
        late = ""
        if s.late_events:
            plural = "s" if s.late_events != 1 else ""
            late = f" (including {s.late_events} late event{plural} from earlier periods)"
        self._paragraph(
            f"Debited in real time: {self._wallet(s.realtime_debits)}. "
            f"True-up at close: {self._wallet(s.true_up)}{late}."
        )
