namespace Microsoft.ML.ResNet.Training;

/// <summary>
/// Turns one raw CHW sample (RGB planes, 0..1) into the network's input: the random crop and flip
/// for training, then per-channel normalization. Runs on managed arrays in the feeder's background
/// producer so it overlaps libtorch's compute; the caller's <see cref="Random"/> makes it reproducible.
/// </summary>
internal sealed class Augmenter
{
    // torchvision RandomResizedCrop's defaults: aspect ratio range and attempts before a centre fallback.
    private const double MinAspect = 3.0 / 4.0;
    private const double MaxAspect = 4.0 / 3.0;
    private const int CropAttempts = 10;

    private readonly TrainingSettings _settings;
    private readonly int _height;
    private readonly int _width;
    private readonly float[] _scale = new float[3];
    private readonly float[] _offset = new float[3];

    public Augmenter(TrainingSettings settings)
    {
        _settings = settings;
        _height = settings.ImageHeight;
        _width = settings.ImageWidth;
        for (var c = 0; c < 3; c++)
        {
            _scale[c] = 1f / settings.Std[c];
            _offset[c] = -settings.Mean[c] / settings.Std[c];
        }
    }

    /// <summary>Normalizes <paramref name="source"/> into <paramref name="target"/>, augmenting first when <paramref name="random"/> is given.</summary>
    public void Apply(ReadOnlySpan<float> source, Span<float> target, Random? random)
    {
        if (random is null || (_settings.Crop == ResNetCropAugmentation.None && !_settings.HorizontalFlip))
        {
            Normalize(source, target);
            return;
        }

        var flip = _settings.HorizontalFlip && random.Next(2) == 1;
        switch (_settings.Crop)
        {
            case ResNetCropAugmentation.RandomCropWithPadding:
            {
                var padding = _settings.CropPadding;
                var dy = random.Next(2 * padding + 1) - padding;
                var dx = random.Next(2 * padding + 1) - padding;
                Shift(source, target, dy, dx, flip);
                break;
            }

            case ResNetCropAugmentation.RandomResizedCrop:
            {
                var (top, left, height, width) = ResizedCropRegion(random);
                ResizeRegion(source, target, top, left, height, width, flip);
                break;
            }

            default:
                Shift(source, target, 0, 0, flip);
                break;
        }
    }

    private void Normalize(ReadOnlySpan<float> source, Span<float> target)
    {
        var plane = _height * _width;
        for (var c = 0; c < 3; c++)
        {
            var scale = _scale[c];
            var offset = _offset[c];
            var from = source.Slice(c * plane, plane);
            var to = target.Slice(c * plane, plane);
            for (var i = 0; i < plane; i++)
            {
                to[i] = from[i] * scale + offset;
            }
        }
    }

    /// <summary>Crop of the zero-padded image at offset (dy, dx) from the centre, optionally mirrored.</summary>
    private void Shift(ReadOnlySpan<float> source, Span<float> target, int dy, int dx, bool flip)
    {
        for (var c = 0; c < 3; c++)
        {
            var offset = _offset[c];
            var scale = _scale[c];
            for (var y = 0; y < _height; y++)
            {
                var row = target.Slice((c * _height + y) * _width, _width);
                var sy = y + dy;
                if (sy < 0 || sy >= _height)
                {
                    row.Fill(offset);
                    continue;
                }

                var sourceRow = source.Slice((c * _height + sy) * _width, _width);
                for (var x = 0; x < _width; x++)
                {
                    var sx = (flip ? _width - 1 - x : x) + dx;
                    row[x] = sx >= 0 && sx < _width ? sourceRow[sx] * scale + offset : offset;
                }
            }
        }
    }

    private (int Top, int Left, int Height, int Width) ResizedCropRegion(Random random)
    {
        var area = (double)_height * _width;
        for (var attempt = 0; attempt < CropAttempts; attempt++)
        {
            var targetArea = area * (_settings.RandomResizedCropMinScale + random.NextDouble() * (1 - _settings.RandomResizedCropMinScale));
            var aspect = Math.Exp(Math.Log(MinAspect) + random.NextDouble() * (Math.Log(MaxAspect) - Math.Log(MinAspect)));
            var width = (int)Math.Round(Math.Sqrt(targetArea * aspect));
            var height = (int)Math.Round(Math.Sqrt(targetArea / aspect));
            if (width > 0 && width <= _width && height > 0 && height <= _height)
            {
                return (random.Next(_height - height + 1), random.Next(_width - width + 1), height, width);
            }
        }

        return (0, 0, _height, _width);
    }

    /// <summary>Bilinear resize (half-pixel centres, like torchvision's antialias-free path) of a region to the full size.</summary>
    private void ResizeRegion(ReadOnlySpan<float> source, Span<float> target, int top, int left, int height, int width, bool flip)
    {
        var scaleY = (double)height / _height;
        var scaleX = (double)width / _width;
        Span<int> x0 = stackalloc int[_width];
        Span<int> x1 = stackalloc int[_width];
        Span<float> wx = stackalloc float[_width];
        for (var x = 0; x < _width; x++)
        {
            var sx = Math.Clamp((x + 0.5) * scaleX - 0.5, 0, width - 1);
            var lo = (int)sx;
            var column = flip ? _width - 1 - x : x;
            x0[column] = left + lo;
            x1[column] = left + Math.Min(lo + 1, width - 1);
            wx[column] = (float)(sx - lo);
        }

        for (var c = 0; c < 3; c++)
        {
            var plane = source.Slice(c * _height * _width, _height * _width);
            for (var y = 0; y < _height; y++)
            {
                var sy = Math.Clamp((y + 0.5) * scaleY - 0.5, 0, height - 1);
                var lo = (int)sy;
                var wy = (float)(sy - lo);
                var upper = plane.Slice((top + lo) * _width, _width);
                var lower = plane.Slice((top + Math.Min(lo + 1, height - 1)) * _width, _width);
                var row = target.Slice((c * _height + y) * _width, _width);
                for (var x = 0; x < _width; x++)
                {
                    var a = upper[x0[x]] + (upper[x1[x]] - upper[x0[x]]) * wx[x];
                    var b = lower[x0[x]] + (lower[x1[x]] - lower[x0[x]]) * wx[x];
                    row[x] = (a + (b - a) * wy) * _scale[c] + _offset[c];
                }
            }
        }
    }
}
