namespace Microsoft.ML.ResNet.Tests.Support;

/// <summary>
/// Passes writes through to an inner stream until <c>failAfterBytes</c> bytes have gone through, then throws
/// an <see cref="IOException"/> as a full disk or a dropped network share would.
/// </summary>
internal sealed class FailingStream : Stream
{
    private readonly Stream _inner;
    private readonly long _failAfterBytes;
    private long _written;

    public FailingStream(Stream inner, long failAfterBytes)
    {
        _inner = inner;
        _failAfterBytes = failAfterBytes;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _written;

    public override long Position
    {
        get => _written;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var allowed = (int)Math.Clamp(_failAfterBytes - _written, 0, buffer.Length);
        _inner.Write(buffer[..allowed]);
        _written += allowed;
        if (allowed < buffer.Length)
        {
            throw new IOException($"No space left on device (simulated after {_written} bytes).");
        }
    }

    public override void Flush() => _inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
