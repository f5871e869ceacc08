"""A picture of the explorer at work, taken in headless Chromium: the README's screenshot.

    python -m keras_vis.explorer.screenshot docs/explorer.png

starts the explorer on the bundled demo model, picks a layer and an image in the page as a user
would, waits until every picture is drawn, and saves the window as PNG. It needs Selenium
(`pip install selenium`) and Chromium with its driver (Debian: `apt-get install chromium
chromium-driver`).
"""

import argparse
import os
import shutil
import sys
import time

from keras_vis.explorer.server import serve
from keras_vis.io import atomic_write


def chromium(width=1400, height=1600):
    """A headless Chromium driven by Selenium, sized `width` × `height` CSS pixels.

    Raises:
        RuntimeError: where Selenium, Chromium or chromium-driver is missing, saying what to
            install.
    """
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise RuntimeError("Taking a screenshot needs Selenium: pip install selenium.") from None
    if browser is None or driver is None:
        raise RuntimeError("Taking a screenshot needs Chromium and its driver: apt-get install "
                           "chromium chromium-driver (Debian), or put both on the PATH.")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", f"--window-size={width},{height}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


def loaded_sources(driver, selector):
    """The `src` of every image the CSS `selector` finds, once all are decoded; else `None`."""
    return driver.execute_script("""
        const images = [...document.querySelectorAll(arguments[0])];
        if (!images.length || images.some((i) => !i.complete || !i.naturalWidth)) return null;
        return images.map((i) => i.src);""", selector)


def take(path, *, layer="block2_conv1", image="star", timeout=120):
    """Saves a screenshot of the explorer on the demo model to `path` (PNG, written atomically).

    Args:
        path: the PNG file to write.
        layer: the layer to pick in the tree.
        image: the name of the sample image to pick.
        timeout: seconds to wait for the pictures.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with serve(port=0, block=False) as server:
        driver = chromium(height=2300)
        try:
            wait = WebDriverWait(driver, timeout, poll_frequency=0.1)
            driver.get(server.url)
            wait.until(lambda d: d.find_element(By.ID, "status").text == "Ready")
            driver.find_element(By.CSS_SELECTOR, f'li[data-path="{layer}"]').click()
            driver.find_element(By.CSS_SELECTOR, f'#images button[title="{image}"]').click()
            wait.until(lambda d: d.find_element(By.ID, "current-name").text == image)
            chosen = driver.find_element(By.CSS_SELECTOR, "#images button.selected")
            image_id = chosen.get_attribute("data-image")
            driver.find_element(By.CSS_SELECTOR, "#panel-maximize button.start").click()
            # The page points every picture at the chosen image once its predictions are listed.
            wait.until(lambda d: d.find_elements(
                By.CSS_SELECTOR, f'#predictions[data-image="{image_id}"]'))
            for selector in ("#panel-features img", "#panel-filters img", "#panel-maximize img",
                             "#panel-methods img"):
                wait.until(lambda d, selector=selector: loaded_sources(d, selector))
            time.sleep(0.3)  # the last layout pass
            picture = driver.get_screenshot_as_png()
        finally:
            driver.quit()
    with atomic_write(path, "wb") as file:
        file.write(picture)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description="Save a screenshot of the keras-vis explorer.")
    parser.add_argument("path", nargs="?", default=os.path.join("docs", "explorer.png"))
    args = parser.parse_args(argv)
    try:
        print(take(args.path))
    except RuntimeError as error:
        print(f"keras-vis: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
