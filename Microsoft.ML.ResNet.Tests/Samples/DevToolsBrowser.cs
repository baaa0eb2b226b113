using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Microsoft.ML.ResNet.Tests.Samples;

/// <summary>
/// Headless Chromium driven through the Chrome DevTools Protocol over a WebSocket, loopback only: the browser picks its
/// debugging port (<c>--remote-debugging-port=0</c>) and prints it on stderr. One page; every wait has a timeout;
/// Dispose closes the socket and kills the browser.
/// </summary>
internal sealed partial class DevToolsBrowser : IDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly TempFolder _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonNode?>> _replies = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonNode?>> _awaitedEvents = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _receiving;
    private int _nextId;

    private DevToolsBrowser(Process process, TempFolder profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>Starts Chromium on about:blank and attaches to its page.</summary>
    public static async Task<DevToolsBrowser> StartAsync()
    {
        var profile = TempFolder.Create();
        var start = new ProcessStartInfo(ChromiumPath) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", $"--user-data-dir={profile.Path}",
            "--window-size=900,900", "about:blank",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var browser = new DevToolsBrowser(Process.Start(start)!, profile);
        try
        {
            var endpoint = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            var log = new StringBuilder();
            browser._process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }

                lock (log)
                {
                    log.AppendLine(e.Data);
                }

                if (ListeningLine().Match(e.Data) is { Success: true } match)
                {
                    endpoint.TrySetResult(new Uri(match.Groups[1].Value));
                }
            };
            browser._process.OutputDataReceived += (_, _) => { };
            browser._process.BeginErrorReadLine();
            browser._process.BeginOutputReadLine();
            if (await Task.WhenAny(endpoint.Task, Task.Delay(CommandTimeout)) != endpoint.Task)
            {
                Assert.Fail($"Chromium printed no 'DevTools listening on ws://...' line within {CommandTimeout.TotalSeconds} s:\n{log}");
            }

            var browserEndpoint = endpoint.Task.Result;
            Assert.AreEqual("127.0.0.1", browserEndpoint.Host, "the debugging port must be on loopback");
            await browser.AttachToPageAsync(browserEndpoint);
            return browser;
        }
        catch
        {
            browser.Dispose();
            throw;
        }
    }

    /// <summary>Sends one command and returns its result; a protocol error fails the test with the message.</summary>
    public async Task<JsonNode?> SendAsync(string method, object? parameters = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _replies[id] = reply;
        var message = JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters ?? new { } });
        await _socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, _stop.Token);
        if (await Task.WhenAny(reply.Task, Task.Delay(CommandTimeout)) != reply.Task)
        {
            Assert.Fail($"No reply to {method} within {CommandTimeout.TotalSeconds} s.");
        }

        return await reply.Task;
    }

    /// <summary>Starts waiting for the next event named <paramref name="method"/>; await the task after causing it.</summary>
    public Task<JsonNode?> NextEvent(string method)
    {
        var awaited = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaitedEvents[method] = awaited;
        return awaited.Task.WaitAsync(CommandTimeout);
    }

    /// <summary>Evaluates a JavaScript expression in the page and returns its value.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new { expression, returnByValue = true, awaitPromise = true });
        return result?["result"]?["value"];
    }

    /// <summary>Polls <paramref name="expression"/> until it is true; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(string expression, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if ((await EvaluateAsync(expression))?.GetValue<bool>() == true)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for {what}; page text: {await EvaluateAsync("document.body.innerText")}");
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Abort();
        _socket.Dispose();
        ChildProcess.Stop(_process);
        try
        {
            _receiving?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The receive loop ends with the socket's abort.
        }

        _stop.Dispose();
        try
        {
            _profile.Dispose();
        }
        catch (IOException)
        {
            // A browser child may still hold a file for a moment; the folder is under the temp folder.
        }
    }

    private async Task AttachToPageAsync(Uri browserEndpoint)
    {
        using var http = new HttpClient { Timeout = CommandTimeout };
        var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{browserEndpoint.Port}/json/list"))!.AsArray();
        var page = targets.FirstOrDefault(t => (string?)t?["type"] == "page")
            ?? throw new AssertFailedException($"Chromium has no page target: {targets.ToJsonString()}");
        await _socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), _stop.Token);
        _receiving = Task.Run(ReceiveLoop);
    }

    private async Task ReceiveLoop()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var received = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage)
                {
                    continue;
                }

                Dispatch(JsonNode.Parse(message.GetBuffer().AsSpan(0, (int)message.Length))!);
                message.SetLength(0);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // Dispose aborts the socket.
        }
    }

    private void Dispatch(JsonNode message)
    {
        if (message["id"] is { } id && _replies.TryRemove(id.GetValue<int>(), out var reply))
        {
            if (message["error"] is { } error)
            {
                reply.TrySetException(new AssertFailedException($"DevTools error: {error.ToJsonString()}"));
            }
            else
            {
                reply.TrySetResult(message["result"]);
            }
        }
        else if ((string?)message["method"] is { } method && _awaitedEvents.TryRemove(method, out var awaited))
        {
            awaited.TrySetResult(message["params"]);
        }
    }

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex ListeningLine();
}
