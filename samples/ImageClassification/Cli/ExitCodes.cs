using System.Runtime.ExceptionServices;
using ImageClassification.Data;
using Spectre.Console.Cli;

namespace ImageClassification.Cli;

/// <summary>The process's exit codes, and the one place that turns an exception into a message and one of them.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int BadCommandLine = 2;
    public const int BadDataOrModelPath = 3;

    private const string SeeHelp = "Run with --help for the commands and options.";

    /// <summary>Writes what went wrong to <paramref name="errors"/> and returns the exit code for it.</summary>
    /// <remarks>
    /// The library's and the parser's errors name the option, file, column or setting at fault; a stack trace would bury
    /// that. Anything else is a bug: it is rethrown, trace and all.
    /// </remarks>
    /// <param name="exception">What went wrong.</param>
    /// <param name="args">The command line, to name the option of a value that is not of its kind.</param>
    /// <param name="errors">Where the message goes.</param>
    public static int Report(Exception exception, IReadOnlyList<string> args, TextWriter errors)
    {
        switch (exception)
        {
            case CommandRuntimeException { InnerException: OptionValueException badValue }:
                WriteError(errors, badValue.Describe(args));
                errors.WriteLine(SeeHelp);
                return BadCommandLine;
            case CommandParseException or CommandRuntimeException:
                WriteError(errors, exception.Message);
                errors.WriteLine(SeeHelp);
                return BadCommandLine;
            case DatasetException or InvalidDataException:
                WriteError(errors, exception.Message);
                return BadDataOrModelPath;
            case InvalidOperationException or ArgumentException or IOException:
                WriteError(errors, exception.Message);
                if (exception.InnerException is { } inner)
                {
                    errors.WriteLine($"  caused by: {inner.Message}");
                }

                return Failure;
            default:
                ExceptionDispatchInfo.Throw(exception);
                return Failure;
        }
    }

    private static void WriteError(TextWriter errors, string message) => errors.WriteLine($"error: {message}");
}
