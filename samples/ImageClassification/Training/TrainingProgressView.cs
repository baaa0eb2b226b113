using System.Globalization;
using Spectre.Console;

namespace ImageClassification.Training;

/// <summary>
/// Shows training progress: a live bar with loss, accuracy and ETA on a terminal, and one plain line
/// per epoch where output is redirected (CI logs, pipes), where a live bar would print nothing useful.
/// </summary>
internal static class TrainingProgressView
{
    /// <summary>Runs <paramref name="train"/>, displaying the updates it reports.</summary>
    public static T Run<T>(string title, Func<IProgress<TrainingUpdate>, T> train)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
        {
            return train(new ImmediateProgress(PrintEpochLine));
        }

        return AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn(),
                new PercentageColumn(),
                new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(title), maxValue: 1.0);
                var result = train(new ImmediateProgress(update =>
                {
                    task.Value = update.Fraction;
                    task.Description = Markup.Escape(Describe(update));
                    if (update.EndsEpoch)
                    {
                        // Keep a line per finished epoch above the live bar: the curve stays readable afterwards.
                        AnsiConsole.MarkupLine(Markup.Escape(EpochLine(update)));
                    }
                }));
                task.Value = task.MaxValue;
                task.StopTask();
                return result;
            });
    }

    private static void PrintEpochLine(TrainingUpdate update)
    {
        if (update.EndsEpoch)
        {
            Console.WriteLine(EpochLine(update));
        }
    }

    private static string Describe(TrainingUpdate u) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {u.Epoch}/{u.Epochs} step {u.Step}/{u.StepsPerEpoch} loss {u.Loss:0.000} acc {u.TrainAccuracy:0.000} {u.ImagesPerSecond:0} img/s ETA {u.Remaining:mm\\:ss}");

    private static string EpochLine(TrainingUpdate u)
    {
        var validation = u.ValidationAccuracy is { } v ? string.Create(CultureInfo.InvariantCulture, $" val-acc {v:0.0000}") : string.Empty;
        var eta = u.Remaining is { } r ? $" ETA {r:mm\\:ss}" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {u.Epoch}/{u.Epochs}  loss {u.Loss:0.0000}  train-acc {u.TrainAccuracy:0.0000}{validation}  lr {u.LearningRate:0.#####}  {u.ImagesPerSecond:0} img/s{eta}");
    }

    /// <summary>Reports on the caller's thread: <see cref="Progress{T}"/> would post to the thread pool and reorder lines.</summary>
    private sealed class ImmediateProgress(Action<TrainingUpdate> report) : IProgress<TrainingUpdate>
    {
        public void Report(TrainingUpdate value) => report(value);
    }
}
