using Microsoft.AspNetCore.Http.Features;
using WebApp;

// dotnet run --project samples/WebApp -- --model out/model.zip        (listens where ASPNETCORE_URLS says)
ServerSettings settings;
try
{
    settings = ServerSettings.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

if (!File.Exists(settings.ModelPath))
{
    Console.Error.WriteLine(
        $"No model at '{Path.GetFullPath(settings.ModelPath)}'. Train one first (dotnet run -c Release --project samples/ImageClassification writes out/model.zip) or pass --model PATH.");
    return 2;
}

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSingleton(settings);
builder.Services.AddSingleton<ModelHost>();
builder.Services.AddHostedService(services => services.GetRequiredService<ModelHost>());

// The upload limit is checked on the file; the request may carry a little more (the multipart framing) before Kestrel
// refuses it outright, so an oversized file still gets our 400 with its message.
builder.Services.Configure<FormOptions>(form => form.MultipartBodyLengthLimit = settings.MaxUploadBytes + UploadLimits.FramingAllowance);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = settings.MaxUploadBytes + UploadLimits.FramingAllowance);

var app = builder.Build();
app.MapGet("/", () => Results.Content(PageResource.Html, "text/html; charset=utf-8"));
app.MapGet("/health", () => Results.Json(new { status = "alive" }));
app.MapGet("/ready", (ModelHost host) => host.Predictor is { } predictor
    ? Results.Json(new { status = "ready", classes = predictor.Labels.Count, device = predictor.Device })
    : Results.Json(new { status = "not ready", error = host.NotReadyReason }, statusCode: StatusCodes.Status503ServiceUnavailable));
app.MapPost("/predict", PredictEndpoint.Handle).DisableAntiforgery();
app.Run();
return 0;
