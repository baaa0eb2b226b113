namespace WebApp;

/// <summary>What the request may carry beyond the image itself.</summary>
internal static class UploadLimits
{
    /// <summary>Multipart boundaries and part headers: a few hundred bytes in practice; 64 KiB leaves room for long names.</summary>
    public const long FramingAllowance = 64 * 1024;
}
