using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Microsoft.ML.ResNet.IO;

/// <summary>
/// The one place where the library writes files the user did not ask for (the patched LibTorchSharp, the ONNX
/// file staged while a model zip is saved): a folder of the current user's own under the system temp folder.
/// </summary>
/// <remarks>
/// The shared temp folder is writable by every user: a fixed name there can be pre-created, filled or pointed
/// elsewhere by someone else (a planted native library runs in our process). So on Unix the folder is
/// <c>resnetml-&lt;euid&gt;</c> created with mode 0700, and before each use it must be a real directory (not a
/// symlink), owned by the effective user, with no group or other permission bits; otherwise it is refused,
/// never repaired or used. Inside it, files are created with <see cref="FileMode.CreateNew"/> (O_CREAT|O_EXCL:
/// fails on any existing name, symlinks included) under unpredictable names. The owner is read with Linux's
/// statx; on other Unix systems (macOS, whose temp folder is per user anyway) the mode and link checks apply.
/// On Windows the temp folder is already per user.
/// </remarks>
internal static partial class PrivateTempFolder
{
    private const string Prefix = "resnetml-";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The current user's private folder under the system temp folder, created and checked.</summary>
    /// <exception cref="IOException">The folder exists but is not private to this user; the message names the
    /// folder and what is wrong with it.</exception>
    public static string Get() => Ensure(Path.GetTempPath());

    /// <summary>A checked private subfolder (e.g. "native") of <see cref="Get"/>.</summary>
    /// <exception cref="IOException">The folder or a parent is not private to this user.</exception>
    public static string GetSubfolder(string name) => EnsureFolder(Path.Combine(Get(), name));

    /// <summary>The private folder under <paramref name="root"/> (the system temp folder but in tests).</summary>
    /// <exception cref="IOException">The folder exists but is not private to this user.</exception>
    internal static string Ensure(string root) =>
        EnsureFolder(Path.Combine(root, OperatingSystem.IsWindows() ? Prefix + "private" : Prefix + EffectiveUserId()));

    /// <summary>Creates <paramref name="folder"/> with mode 0700 when absent, then checks it (see the remarks).</summary>
    /// <exception cref="IOException">The folder is a symlink, not a directory, owned by another user or open
    /// to group/other.</exception>
    internal static string EnsureFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
            return folder;
        }

        if (!Path.Exists(folder) && new FileInfo(folder).LinkTarget is null)
        {
            try
            {
                Directory.CreateDirectory(folder, OwnerOnly);
            }
            catch (IOException)
            {
                // Someone created it first; the check below decides whether it can be used.
            }
        }

        Check(folder);
        return folder;
    }

    /// <summary>Creates a new file with an unpredictable name in <paramref name="folder"/>, exclusively.</summary>
    /// <param name="folder">A folder returned by <see cref="Get"/> or <see cref="GetSubfolder"/>.</param>
    /// <param name="suffix">The file name's end, e.g. ".onnx".</param>
    /// <param name="path">The new file's path.</param>
    /// <exception cref="IOException">The name exists already (only if someone guessed 128 random bits).</exception>
    public static FileStream CreateExclusive(string folder, string suffix, out string path)
    {
        path = Path.Combine(folder, Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant() + suffix);
        return CreateNew(path);
    }

    /// <summary>Opens <paramref name="path"/> for writing only if nothing (no file, no symlink) is there.</summary>
    /// <exception cref="IOException">Something exists at <paramref name="path"/>.</exception>
    internal static FileStream CreateNew(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return new FileStream(path, options);
    }

    private static void Check(string folder)
    {
        var info = new DirectoryInfo(folder);
        if (info.LinkTarget is not null)
        {
            throw NotPrivate(folder, $"it is a symbolic link (to '{info.LinkTarget}'), expected a real directory");
        }

        if (!info.Exists)
        {
            throw NotPrivate(folder, "it is not a directory");
        }

        var mode = info.UnixFileMode;
        if ((mode & GroupOrOther) != 0)
        {
            throw NotPrivate(folder, $"its mode is {ModeString(mode)}, expected 700 (no group or other permissions)");
        }

        if (OperatingSystem.IsLinux())
        {
            var owner = OwnerOf(folder);
            var me = EffectiveUserId();
            if (owner != me)
            {
                throw NotPrivate(folder, $"it is owned by uid {owner}, expected the current user's uid {me}");
            }
        }
    }

    private static IOException NotPrivate(string folder, string what) =>
        new($"Refusing to use the private temp folder '{folder}': {what}. Remove it (or fix it) and retry; the library never uses a temp folder another user could change.");

    private static string ModeString(UnixFileMode mode) => Convert.ToString((int)mode & 0x1ff, 8);

    private static uint EffectiveUserId() => OperatingSystem.IsWindows() ? 0 : GetEffectiveUserId();

    /// <summary>The owner's uid from statx (its layout is the same on every Linux architecture), not following links.</summary>
    private static unsafe uint OwnerOf(string path)
    {
        const int AtCurrentDirectory = -100;     // AT_FDCWD
        const int AtSymlinkNoFollow = 0x100;     // AT_SYMLINK_NOFOLLOW
        const uint StatxUid = 0x8;               // STATX_UID
        const int UidOffset = 20;                // struct statx: mask, blksize, attributes, nlink, then uid
        var buffer = stackalloc byte[256];
        if (Statx(AtCurrentDirectory, path, AtSymlinkNoFollow, StatxUid, buffer) != 0)
        {
            throw new IOException($"Could not read the owner of '{path}' (statx failed, errno {Marshal.GetLastPInvokeError()}).");
        }

        return *(uint*)(buffer + UidOffset);
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int directoryFd, string path, int flags, uint mask, byte* buffer);
}
