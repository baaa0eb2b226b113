using Microsoft.ML.ResNet;

namespace WebApp;

/// <summary>
/// <c>POST /predict</c>: multipart field <c>image</c> -> <c>{"predictions":[{"label":..,"score":..},...],"heatmap":"data:image/png;base64,..."}</c>
/// (the heat map unless the server runs with --no-heatmap). Anything
/// wrong with the upload is a 400 whose JSON <c>error</c> says what; a full queue is a 503 with Retry-After; a model
/// still loading is a 503. Nothing a client sends can stop the server.
/// </summary>
internal static class PredictEndpoint
{
    public const string ImageField = "image";

    public static async Task<IResult> Handle(HttpRequest request, ModelHost host, ServerSettings settings, CancellationToken cancellationToken)
    {
        if (host.Predictor is not { } predictor)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, host.NotReadyReason);
        }

        if (!request.HasFormContentType)
        {
            return Error(StatusCodes.Status400BadRequest,
                $"Expected a multipart/form-data upload with the image in field '{ImageField}'; got content type '{request.ContentType ?? "(none)"}'.");
        }

        byte[] image;
        try
        {
            var form = await request.ReadFormAsync(cancellationToken);
            var file = form.Files.GetFile(ImageField);
            if (file is null)
            {
                var fields = form.Files.Select(f => f.Name).Concat(form.Keys).Distinct().ToArray();
                return Error(StatusCodes.Status400BadRequest,
                    $"No file in field '{ImageField}'; the upload has {(fields.Length == 0 ? "no fields" : "fields: " + string.Join(", ", fields))}.");
            }

            if (file.Length == 0)
            {
                return Error(StatusCodes.Status400BadRequest, $"The file '{file.FileName}' in field '{ImageField}' is empty (0 bytes).");
            }

            if (file.Length > settings.MaxUploadBytes)
            {
                return TooLarge(settings, file.Length);
            }

            image = new byte[file.Length];
            await using var stream = file.OpenReadStream();
            await stream.ReadExactlyAsync(image, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException)
        {
            // The body outran the form or Kestrel limit (or was not valid multipart): the reader stops before buffering it all.
            return e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase) || e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }
                ? TooLarge(settings, request.ContentLength)
                : Error(StatusCodes.Status400BadRequest, $"The upload is not valid multipart/form-data: {e.Message}");
        }

        try
        {
            var prediction = await predictor.PredictAsync(image, cancellationToken);
            return Results.Json(new PredictResponse(prediction.Top.Select(t => new LabelScore(t.Label, t.Score)).ToArray(), HeatMap(prediction)));
        }
        catch (ArgumentException e)
        {
            // ArgumentException appends "(Parameter 'image')": the client knows the field by its own name.
            var reason = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            return Error(StatusCodes.Status400BadRequest, $"The file in field '{ImageField}' is not an image: {reason}");
        }
        catch (ResNetPredictorQueueFullException e)
        {
            return Results.Json(new ErrorResponse(e.Message), statusCode: StatusCodes.Status503ServiceUnavailable)
                .WithRetryAfter(1);
        }
    }

    private static string? HeatMap(ResNetPrediction prediction) =>
        prediction.HeatMapPng is { } png ? "data:image/png;base64," + Convert.ToBase64String(png) : null;

    private static IResult TooLarge(ServerSettings settings, long? size) => Error(StatusCodes.Status400BadRequest,
        $"The upload{(size is long bytes ? $" ({bytes:N0} bytes)" : "")} is larger than the limit of {settings.MaxUploadBytes:N0} bytes ({settings.MaxUploadBytes / (1024 * 1024)} MB; --max-upload-mb).");

    private static IResult Error(int status, string message) => Results.Json(new ErrorResponse(message), statusCode: status);

    private static IResult WithRetryAfter(this IResult result, int seconds) => new RetryAfterResult(result, seconds);

    private sealed record LabelScore(string Label, float Score);

    private sealed record PredictResponse(LabelScore[] Predictions, [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Heatmap);

    private sealed record ErrorResponse(string Error);

    /// <summary>Adds a Retry-After header to another result.</summary>
    private sealed class RetryAfterResult(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
