// The studio page in a real browser (Debian's headless Chromium through chromedriver): generate, paint a mask, inpaint,
// see errors in words, cancel a long job (the browser's own Origin and Sec-Fetch-Site headers pass the studio's checks). .ci/run installs chromium and chromium-driver.
using ConsistencyModels.IO.Images;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Interactions;
using OpenQA.Selenium.Support.UI;
using Xunit;

namespace ConsistencyModels.Tests.Studio;

public class StudioBrowserTests(StudioServerFixture studio) : IClassFixture<StudioServerFixture>
{
    private static ChromeDriver Browser()
    {
        var (chromium, driver) = Requirements.Chromium();
        var options = new ChromeOptions { BinaryLocation = chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    private static IWebElement WaitFor(IWebDriver driver, Func<IWebDriver, IWebElement?> find, int seconds = 60) =>
        new WebDriverWait(driver, TimeSpan.FromSeconds(seconds)).Until(d => find(d));

    /// <summary>Waits for a new result image (a job URL different from <paramref name="previous"/>) that has loaded.</summary>
    private static string WaitForResult(IWebDriver driver, string? previous)
    {
        var img = WaitFor(driver, d =>
        {
            var error = d.FindElement(By.Id("error")).Text;
            Assert.True(error.Length == 0, $"the page shows an error: {error}");
            var e = d.FindElement(By.Id("result"));
            var src = e.GetAttribute("src") ?? "";
            bool loaded = ((IJavaScriptExecutor)d).ExecuteScript("return arguments[0].complete && arguments[0].naturalWidth > 0", e) is true;
            return src.Contains("/api/jobs/") && src != previous && loaded ? e : null;
        });
        return img.GetAttribute("src")!;
    }

    /// <summary>A browser on the studio page once its model list has loaded; skips the test where no browser is installed (fails it under CI).</summary>
    private ChromeDriver OpenStudio()
    {
        var driver = Browser();
        driver.Navigate().GoToUrl(studio.Http.BaseAddress!.ToString());
        WaitFor(driver, d => d.FindElements(By.CssSelector("#model option")).FirstOrDefault());
        return driver;
    }

    [SkippableFact]
    public void GenerateThenPaintAMaskAndInpaint()
    {
        using var driver = OpenStudio();
        // Class names come from the API.
        Assert.Contains(driver.FindElements(By.CssSelector("#class-label option")), o => o.Text == "9: Ankle boot");

        new SelectElement(driver.FindElement(By.Id("class-label"))).SelectByValue("9");
        driver.FindElement(By.Id("count")).Clear();
        driver.FindElement(By.Id("count")).SendKeys("8");
        driver.FindElement(By.Id("generate")).Click();
        var generated = WaitForResult(driver, null);
        Assert.Contains("grid.png", driver.FindElement(By.Id("download")).GetAttribute("href"));

        // Upload a picture, paint over its centre, inpaint.
        using var dir = new TempDir();
        var pixels = new byte[32 * 32];
        if (Requirements.OptionalFashionMnist(Requirements.FashionMnistTestImages) is not null)
        {
            var test = Metrics.DomainClassifierTests.FashionMnistTest();
            // A real test image (entry 0, an ankle boot), as the dataset gives it: [-1, 1] back to bytes.
            var x = new float[32 * 32];
            test.Read(0, x);
            for (int i = 0; i < x.Length; i++) pixels[i] = (byte)Math.Round((x[i] + 1) * 127.5);
        }
        else for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i / 32 * 8);
        ImageIO.SavePng(dir.File("shirt.png"), pixels, 32, 32, 1);
        driver.FindElement(By.Id("image")).SendKeys(dir.File("shirt.png"));
        var canvas = driver.FindElement(By.Id("mask-canvas"));
        new Actions(driver).MoveToElement(canvas).ClickAndHold().MoveByOffset(30, 10).MoveByOffset(-20, 25).Release().Perform();
        Assert.True(((IJavaScriptExecutor)driver).ExecuteScript("return maskDirty") is true, "painting did not mark the mask");
        driver.FindElement(By.Id("edit")).Click();
        var edited = WaitForResult(driver, generated);
        Assert.NotEqual(generated, edited);
        Assert.Equal("reference | input | result", driver.FindElement(By.Id("note")).Text);

        if (Environment.GetEnvironmentVariable("CM_STUDIO_SCREENSHOT") is { Length: > 0 } shot)
            driver.GetScreenshot().SaveAsFile(shot);
    }

    [SkippableFact]
    public void ErrorsAreShownInWords()
    {
        using var driver = OpenStudio();
        new SelectElement(driver.FindElement(By.Id("class-label"))).SelectByValue("1");
        new SelectElement(driver.FindElement(By.Id("task"))).SelectByText("colorize");
        driver.FindElement(By.Id("edit")).Click();
        var error = WaitFor(driver, d => d.FindElement(By.Id("error")) is { Text.Length: > 0 } e ? e : null);
        Assert.Contains("needs an input image", error.Text);
        Assert.DoesNotContain("   at ", error.Text);
        // The page still works afterwards.
        driver.FindElement(By.Id("generate")).Click();
        WaitFor(driver, d => d.FindElement(By.Id("error")).Text.Length == 0 && (d.FindElement(By.Id("result")).GetAttribute("src") ?? "").Contains("/api/jobs/") ? d.FindElement(By.Id("result")) : null);
    }

    [SkippableFact]
    public void TheCancelButtonStopsARunningJob()
    {
        using var driver = OpenStudio();
        Assert.False(driver.FindElement(By.Id("cancel")).Enabled);
        new SelectElement(driver.FindElement(By.Id("class-label"))).SelectByValue("2");
        new SelectElement(driver.FindElement(By.Id("sampler"))).SelectByText("heun");
        driver.FindElement(By.Id("steps")).SendKeys("1000");
        driver.FindElement(By.Id("count")).Clear();
        driver.FindElement(By.Id("count")).SendKeys("64");
        driver.FindElement(By.Id("generate")).Click();
        WaitFor(driver, d => d.FindElement(By.Id("status")) is { Text: "generate: running" } e ? e : null);
        driver.FindElement(By.Id("cancel")).Click();
        WaitFor(driver, d => d.FindElement(By.Id("status")) is { Text: "generate: cancelled" } e ? e : null);
        Assert.Equal("", driver.FindElement(By.Id("error")).Text);
        WaitFor(driver, d => d.FindElement(By.Id("generate")) is { Enabled: true } e ? e : null);
        Assert.False(driver.FindElement(By.Id("cancel")).Enabled);
    }
}
