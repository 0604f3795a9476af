"""Scans made here, for the OCR tests and `python -m bench ocr`: a short regulation typeset as a
红头文件 (red issuer banner, 文号, centred title, chapters, indented articles, "— n —" footers, a red
seal over the signature), drawn with Pillow in a CJK font, optionally made worse (rotation, blur,
JPEG artefacts) and wrapped as an image-only PDF. `character_error_rate` compares texts.
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

ISSUER = "青禾市人民政府文件"
DOC_NUMBER = "青府发〔2024〕7号"
TITLE = "青禾市信访事项办理规定"
BODY = (
    "第一章 总则",
    "第一条 为了规范本市信访事项的办理，保障信访人的合法权益，根据《信访工作条例》，结合本市实际，制定本规定。",
    "第二条 本市各级机关、单位办理信访事项，适用本规定。",
    "第三条 信访工作坚持属地管理、分级负责，谁主管、谁负责，依法、及时、就地解决问题与疏导教育相结合。",
    "第二章 受理",
    "第四条 信访人提出信访事项，应当客观真实，对其所提供材料内容的真实性负责。",
    "第五条 信访部门收到信访事项，应当予以登记，并区分情况，在15日内分别按下列方式处理：",
    "（一）属于本机关职权范围的，应当告知信访人接收情况以及处理途径和程序；",
    "（二）属于下级机关职权范围的，应当转送、交办有权处理的机关；",
    "（三）不属于本机关职权范围的，应当告知信访人向有权处理的机关提出。",
    "第六条 有权处理的机关应当自收到转送、交办的信访事项之日起15日内决定是否受理。",
    "第三章 办理",
    "第七条 对依照职责属于本机关处理的信访事项，应当依法作出处理，并答复信访人。",
    "第八条 信访事项应当自受理之日起60日内办结；情况复杂的，经本机关负责人批准，可以适当延长办理期限，但延长期限不得超过30日。",
    "第九条 信访人对处理意见不服的，可以自收到书面答复之日起30日内请求原办理机关的上一级机关复查。",
    "第十条 信访人对复查意见不服的，可以自收到书面答复之日起30日内向复查机关的上一级机关请求复核。",
    "第四章 附则",
    "第十一条 本规定自2024年5月1日起施行。",
)
SIGNATURE = ("青禾市人民政府", "2024年3月20日")
FONT_PATHS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")


def cjk_font() -> Path | None:
    """A CJK font file of the machine (Debian `fonts-wqy-microhei`, which `make test` installs), or None."""
    return next((Path(p) for p in FONT_PATHS if Path(p).is_file()), None)


def original_text() -> str:
    """The regulation as plain text: what the scans must read back as."""
    return "\n".join((DOC_NUMBER, TITLE, *BODY, *SIGNATURE))


@dataclass(frozen=True)
class Noise:
    rotate: float = 0.0         # degrees
    blur: float = 0.0           # Gaussian radius, pixels at 300 dpi
    jpeg: int = 0               # JPEG quality (0: none)
    seed: int = 7


CLEAN = Noise()
NOISY = Noise(rotate=1.5, blur=1.0, jpeg=55)


def _wrap(draw, text: str, font, width: float, indent: str) -> list[str]:
    """`text` broken into lines no wider than `width`, the first one indented by `indent`; as
    typesetters do, no line begins with a closing punctuation mark (it overhangs the line before)."""
    lines, line = [], indent
    for ch in text:
        if draw.textlength(line + ch, font=font) > width and ch not in "，。；：、）》！？":
            lines.append(line)
            line = ""
        line += ch
    return lines + [line]


def render_pages(dpi: int = 300, noise: Noise = CLEAN, body: tuple[str, ...] = BODY):
    """The regulation as page images (PIL, RGB) at `dpi`: a red banner, 文号 and red rule, the
    centred title, chapters centred, articles indented two characters, footers "— n —", and a red
    seal over the signature on the last page.

    Raises:
        FileNotFoundError: when the machine has no CJK font (`cjk_font`).
    """
    from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

    font_path = cjk_font()
    if font_path is None:
        raise FileNotFoundError("no CJK font found (install fonts-wqy-microhei)")
    px = dpi / 72
    width, height, margin = int(8.27 * dpi), int(11.69 * dpi), int(0.9 * dpi)
    text_font = ImageFont.truetype(str(font_path), int(15 * px))
    title_font = ImageFont.truetype(str(font_path), int(20 * px))
    banner_font = ImageFont.truetype(str(font_path), int(30 * px))
    pitch = int(15 * px * 1.75)
    pages = [Image.new("RGB", (width, height), "white")]
    draw = ImageDraw.Draw(pages[0])

    def centred(y: int, text: str, font, fill="black") -> None:
        draw.text(((width - draw.textlength(text, font=font)) / 2, y), text, font=font, fill=fill)

    centred(margin, ISSUER, banner_font, fill=(220, 20, 20))
    y = margin + int(30 * px * 1.8)
    centred(y, DOC_NUMBER, text_font)
    y += pitch
    draw.rectangle((margin, y, width - margin, y + int(2 * px)), fill=(220, 20, 20))
    y += pitch
    centred(y, TITLE, title_font)
    y += int(pitch * 1.6)
    blocks = [(line, True) if line.startswith("第") and line.split()[0].endswith("章") else (line, False)
              for line in body]
    for text, heading in blocks:
        rows = [text] if heading else _wrap(draw, text, text_font, width - 2 * margin, "　　")
        for row in rows:
            if y + pitch > height - margin:
                pages.append(Image.new("RGB", (width, height), "white"))
                draw = ImageDraw.Draw(pages[-1])
                y = margin
            if heading:
                centred(y, row, text_font)
            else:
                draw.text((margin, y), row, font=text_font, fill="black")
            y += pitch
    y += pitch
    for line in SIGNATURE:
        draw.text((width - margin - draw.textlength(line, font=text_font) - 2 * 15 * px, y), line,
                  font=text_font, fill="black")
        y += pitch
    seal = Image.new("RGB", (width, height), "white")
    _seal(ImageDraw.Draw(seal), (int(width - margin - 110 * px), int(y - pitch * 1.8)), int(55 * px), font_path, px)
    pages[-1] = ImageChops.multiply(pages[-1], seal)     # ink on ink, as a seal stamped on print
    for n, page in enumerate(pages, 1):
        draw = ImageDraw.Draw(page)
        centred(height - margin // 2 - pitch, f"— {n} —", text_font)
    rng = random.Random(noise.seed)
    out = []
    for page in pages:
        if noise.rotate:
            page = page.rotate(noise.rotate * rng.choice((-1, 1)), resample=Image.BICUBIC, fillcolor="white")
        if noise.blur:
            page = page.filter(ImageFilter.GaussianBlur(noise.blur * dpi / 300))
        if noise.jpeg:
            buffer = io.BytesIO()
            page.save(buffer, format="JPEG", quality=noise.jpeg)
            page = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
        out.append(page)
    return out


def _seal(draw, centre: tuple[int, int], radius: int, font_path: Path, px: float) -> None:
    """A round red seal: ring, star and the issuer's name, drawn over whatever lies beneath."""
    from PIL import ImageFont

    red = (230, 30, 30)
    x, y = centre
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=red, width=int(3 * px))
    draw.regular_polygon((x, y, radius // 4), 5, fill=red)
    font = ImageFont.truetype(str(font_path), int(9 * px))
    draw.text((x - draw.textlength("青禾市人民政府", font=font) / 2, y + radius // 3), "青禾市人民政府",
              font=font, fill=red)


def image_pdf(pages, dpi: int = 300) -> bytes:
    """An image-only PDF (no text layer) of the page images."""
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=dpi, save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance (insertions, deletions, substitutions) over the reference's length, whitespace
    ignored."""
    ref, hyp = "".join(reference.split()), "".join(hypothesis.split())
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(1, len(ref))
