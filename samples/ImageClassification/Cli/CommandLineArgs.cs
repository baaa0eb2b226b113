using System.Globalization;

namespace ImageClassification.Cli;

/// <summary>
/// A parsed command line: <c>command [positional...] [--option value] [--flag]</c>.
/// </summary>
/// <remarks>
/// Hand-written on purpose: four commands with a handful of options each read more clearly as a table
/// (<see cref="Commands"/>) than as a parser framework's object graph.
/// </remarks>
internal sealed class CommandLineArgs
{
    public const string Train = "train";
    public const string Evaluate = "evaluate";
    public const string Predict = "predict";
    public const string Export = "export";
    public const string Help = "help";

    /// <summary>The options each command accepts; <c>null</c> marks a flag that takes no value.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string?>> Commands =
        new Dictionary<string, IReadOnlyDictionary<string, string?>>
        {
            [Train] = new Dictionary<string, string?>
            {
                ["data"] = "folder", ["test-data"] = "folder", ["arch"] = "name", ["epochs"] = "n",
                ["image-size"] = "pixels", ["batch-size"] = "n", ["learning-rate"] = "lr", ["weights"] = "file.pth",
                ["output"] = "folder", ["bad-images"] = "skip|fail", ["seed"] = "n", ["top-k"] = "k",
                ["from-scratch"] = null, ["variant"] = "torchvision|seed",
            },
            [Evaluate] = new Dictionary<string, string?>
            {
                ["model"] = "model.zip", ["data"] = "folder", ["bad-images"] = "skip|fail", ["top-k"] = "k",
            },
            [Predict] = new Dictionary<string, string?>
            {
                ["model"] = "model.zip", ["format"] = "table|csv|json", ["top-k"] = "k", ["bad-images"] = "skip|fail",
            },
            [Export] = new Dictionary<string, string?>
            {
                ["model"] = "model.zip", ["output"] = "model.onnx", ["triton"] = "folder",
            },
            [Help] = new Dictionary<string, string?>(),
        };

    private readonly Dictionary<string, string?> _options;

    private CommandLineArgs(string command, IReadOnlyList<string> positionals, Dictionary<string, string?> options)
    {
        Command = command;
        Positionals = positionals;
        _options = options;
    }

    /// <summary>One of <see cref="Commands"/>' keys.</summary>
    public string Command { get; }

    /// <summary>Arguments that are not options, in order (e.g. predict's image or folder).</summary>
    public IReadOnlyList<string> Positionals { get; }

    /// <summary>Parses the arguments. No arguments at all means <c>train</c> with every default.</summary>
    /// <exception cref="UsageException">An unknown command or option, or an option without its value.</exception>
    public static CommandLineArgs Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0)
        {
            return new CommandLineArgs(Train, [], []);
        }

        var first = args[0];
        if (first is "-h" or "--help" or "-?")
        {
            return new CommandLineArgs(Help, [], []);
        }

        // Options without a command belong to the default command: `-- --epochs 2` trains.
        var start = 1;
        if (first.StartsWith("--", StringComparison.Ordinal))
        {
            first = Train;
            start = 0;
        }

        if (!Commands.TryGetValue(first, out var known))
        {
            throw new UsageException($"Unknown command '{first}'. Expected one of: {string.Join(", ", Commands.Keys)}.");
        }

        var positionals = new List<string>();
        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = start; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                return new CommandLineArgs(Help, [first], []);
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                positionals.Add(arg);
                continue;
            }

            // Accept both "--name value" and "--name=value".
            var name = arg[2..];
            string? value = null;
            var equals = name.IndexOf('=');
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }

            if (!known.TryGetValue(name, out var valueName))
            {
                var accepted = known.Count == 0 ? "none" : string.Join(", ", known.Keys.Select(k => "--" + k));
                throw new UsageException($"Unknown option '--{name}' for '{first}'. Options of '{first}': {accepted}.");
            }

            if (valueName is not null && value is null)
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new UsageException($"Option '--{name}' needs a value ({valueName}).");
                }

                value = args[++i];
            }

            options[name] = value;
        }

        return new CommandLineArgs(first, positionals, options);
    }

    /// <summary>True when the option was given (with or without a value).</summary>
    public bool Has(string name) => _options.ContainsKey(name);

    /// <summary>The option's value, or <paramref name="fallback"/> when absent.</summary>
    public string? GetString(string name, string? fallback = null) =>
        _options.TryGetValue(name, out var value) ? value : fallback;

    /// <summary>The option as an integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="UsageException">Not an integer, or out of range.</exception>
    public int GetInt(string name, int fallback, int min = 1, int max = int.MaxValue)
    {
        if (!_options.TryGetValue(name, out var text) || text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            var range = max == int.MaxValue ? $">= {min}" : $"{min}..{max}";
            throw new UsageException($"Option '--{name}' expects an integer {range}, got '{text}'.");
        }

        return value;
    }

    /// <summary>The option as a positive number.</summary>
    /// <exception cref="UsageException">Not a number, or not positive.</exception>
    public double? GetDouble(string name)
    {
        if (!_options.TryGetValue(name, out var text) || text is null)
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0 || !double.IsFinite(value))
        {
            throw new UsageException($"Option '--{name}' expects a positive number, got '{text}'.");
        }

        return value;
    }

    /// <summary>The option as one of <paramref name="choices"/> (case-insensitive).</summary>
    /// <exception cref="UsageException">A value that is not one of the choices.</exception>
    public string GetChoice(string name, string fallback, params string[] choices)
    {
        var text = GetString(name);
        if (text is null)
        {
            return fallback;
        }

        return choices.FirstOrDefault(c => string.Equals(c, text, StringComparison.OrdinalIgnoreCase))
            ?? throw new UsageException($"Option '--{name}' expects one of {string.Join(", ", choices)}, got '{text}'.");
    }
}
