using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>
/// samples/WebApp running as a child process on a loopback port the system picks (ASPNETCORE_URLS=http://127.0.0.1:0;
/// the port is read from its "Now listening on" line). Ready once <c>/ready</c> answers 200. Dispose kills it.
/// </summary>
internal sealed partial class WebAppServer : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private WebAppServer(Process process)
    {
        _process = process;
    }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Everything the server wrote so far, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string AppPath => Path.Combine(TestPaths.RepositoryRoot, "samples", "WebApp", "bin", TestPaths.Configuration, "net10.0", "WebApp.dll");

    /// <summary>Starts the app on <paramref name="modelZip"/> and waits until it is ready.</summary>
    public static async Task<WebAppServer> StartAsync(string modelZip, params string[] arguments)
    {
        Assert.IsTrue(File.Exists(AppPath), $"samples/WebApp is not built at {AppPath}");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(AppPath)!,
        };
        start.ArgumentList.Add(AppPath);
        start.ArgumentList.Add("--model");
        start.ArgumentList.Add(modelZip);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["DOTNET_gcServer"] = "0";
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = new WebAppServer(Process.Start(start)!);
        try
        {
            void Collect(string? line)
            {
                if (line is null)
                {
                    return;
                }

                lock (server._output)
                {
                    server._output.AppendLine(line);
                }

                if (ListeningLine().Match(line) is { Success: true } match)
                {
                    listening.TrySetResult(new Uri(match.Groups[1].Value + "/"));
                }
            }

            server._process.OutputDataReceived += (_, e) => Collect(e.Data);
            server._process.ErrorDataReceived += (_, e) => Collect(e.Data);
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            var exited = server._process.WaitForExitAsync();
            var first = await Task.WhenAny(listening.Task, exited, Task.Delay(StartTimeout));
            if (first != listening.Task)
            {
                Assert.Fail($"samples/WebApp did not start listening within {StartTimeout.TotalSeconds} s (exited: {server._process.HasExited}). Output:\n{server.Output}");
            }

            server.BaseAddress = listening.Task.Result;
            await server.WaitReadyAsync();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    public HttpClient NewClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose()
    {
        ChildProcess.Stop(_process);
    }

    private async Task WaitReadyAsync()
    {
        using var client = NewClient();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout)
        {
            using var response = await client.GetAsync("ready");
            if (response.IsSuccessStatusCode)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"samples/WebApp was not ready within {StartTimeout.TotalSeconds} s. Output:\n{Output}");
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningLine();
}
