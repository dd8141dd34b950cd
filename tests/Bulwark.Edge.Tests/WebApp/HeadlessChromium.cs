using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Bulwark.Edge.Tests.WebApp;

/// <summary>
/// Debian's Chromium and chromedriver, headless, with a fresh profile directory. Missing binaries
/// fail the test with a message saying what to install: a browser test never skips silently.
/// </summary>
public sealed class HeadlessChromium : IDisposable
{
    public const string BrowserPath = "/usr/bin/chromium";
    public const string DriverPath = "/usr/bin/chromedriver";

    private readonly ChromeDriverService _service;
    private readonly string _profileDirectory;

    private HeadlessChromium(ChromeDriver driver, ChromeDriverService service, string profileDirectory)
    {
        Driver = driver;
        _service = service;
        _profileDirectory = profileDirectory;
    }

    public ChromeDriver Driver { get; }

    public static HeadlessChromium Start()
    {
        foreach (var path in new[] { BrowserPath, DriverPath })
        {
            if (!File.Exists(path))
            {
                Assert.Fail($"{path} is missing. The web app's browser test needs Debian's Chromium and its driver: " +
                    "apt-get install chromium chromium-driver (scripts/test installs them).");
            }
        }
        var profileDirectory = Directory.CreateTempSubdirectory("bulwark-chromium-").FullName;
        var options = new ChromeOptions { BinaryLocation = BrowserPath };
        options.AddArguments(
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            "--window-size=414,896", $"--user-data-dir={profileDirectory}");
        // The driver path is given explicitly so Selenium never looks for (or downloads) a driver itself.
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(DriverPath)!, Path.GetFileName(DriverPath));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        try
        {
            var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
            return new HeadlessChromium(driver, service, profileDirectory);
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            Driver.Quit();
        }
        finally
        {
            Driver.Dispose();
            _service.Dispose();
            try
            {
                Directory.Delete(_profileDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Chromium may still hold a file for a moment; a leftover temporary profile is harmless.
            }
            catch (UnauthorizedAccessException)
            {
                // As above.
            }
        }
    }

    /// <summary>The element with <c>data-testid</c> <paramref name="testId"/> when it is shown, else null (for waits).</summary>
    public static IWebElement? Displayed(IWebDriver driver, string testId)
    {
        var element = driver.FindElement(By.CssSelector($"[data-testid='{testId}']"));
        return element.Displayed ? element : null;
    }

    public static string Text(IWebDriver driver, string testId) =>
        driver.FindElement(By.CssSelector($"[data-testid='{testId}']")).Text;

    /// <summary>Saves a screenshot when BULWARK_SCREENSHOTS names a directory, to look at what the test saw.</summary>
    public static void Screenshot(IWebDriver driver, string name)
    {
        var directory = Environment.GetEnvironmentVariable("BULWARK_SCREENSHOTS");
        if (string.IsNullOrEmpty(directory) || driver is not ITakesScreenshot camera)
        {
            return;
        }
        Directory.CreateDirectory(directory);
        camera.GetScreenshot().SaveAsFile(Path.Combine(directory, $"{name}.png"));
    }
}
