"""Open a Snakemake report in headless Chromium and show each plot the way a reader would."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"  # Debian's package `chromium`
# flags for a sandbox with no network: without them Chromium keeps trying to reach Google
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing() -> str | None:
    """Why the browser check cannot run here, or None."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return "Chromium not installed (Debian: apt-get install chromium; .ci/run does it as root)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright not installed (it is in the [test] extra)"
    return None


def rendered_plots(report: Path, names: list[str], screenshot_dir: Path | None = None) -> dict[str, tuple[int, int]]:
    """For each plot file name: click it in the report's Plots list, return the shown PNG's size."""
    from playwright.sync_api import sync_playwright

    sizes = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(report.resolve().as_uri())
            page.get_by_text("Plots", exact=True).click(timeout=20_000)
            for name in names:
                page.locator("tr", has_text=name).first.locator("a").first.click(timeout=20_000)  # the eye icon
                image = page.locator(f'img[src^="data:image/png"][src*="filename={name}"]')
                image.wait_for(timeout=20_000)
                page.wait_for_function(
                    "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=20_000
                )
                sizes[name] = tuple(image.evaluate("img => [img.naturalWidth, img.naturalHeight]"))
                if screenshot_dir:
                    page.screenshot(path=str(screenshot_dir / f"report_{name}"))
            if errors:
                raise AssertionError(f"JavaScript errors in {report}: {errors}")
        finally:
            browser.close()
    return sizes
