namespace WebApp;

/// <summary>The single page (Page/index.html, embedded): self-contained, no external scripts or styles.</summary>
internal static class PageResource
{
    public static readonly string Html = Read();

    private static string Read()
    {
        using var stream = typeof(PageResource).Assembly.GetManifestResourceStream("index.html")
            ?? throw new InvalidOperationException("The page resource 'index.html' is missing from the WebApp assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
