using System.ComponentModel;
using System.Globalization;

namespace ImageClassification.Cli;

/// <summary>Reads an integer option (invariant culture); anything else is an <see cref="OptionValueException"/>.</summary>
internal sealed class IntegerConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) => sourceType == typeof(string);

    public override object ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        int.TryParse((string)value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new OptionValueException((string)value, "an integer");
}

/// <summary>Reads a number option (invariant culture: 0.03, 1e-3); anything else is an <see cref="OptionValueException"/>.</summary>
internal sealed class NumberConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) => sourceType == typeof(string);

    public override object ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        double.TryParse((string)value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new OptionValueException((string)value, "a number");
}

/// <summary>
/// Reads one of an enum's names, case-insensitively ("csv" is <c>Csv</c>); unlike the framework's enum converter it takes
/// no numbers, and its error lists the names as they are typed.
/// </summary>
internal sealed class ChoiceConverter<TEnum> : TypeConverter
    where TEnum : struct, Enum
{
    /// <summary>The names as the command line spells them: "skip, fail".</summary>
    public static string Choices => string.Join(", ", Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant()));

    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) => sourceType == typeof(string);

    public override object ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
    {
        var text = (string)value;
        return Enum.GetNames<TEnum>().FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase)) is { } name
            ? Enum.Parse<TEnum>(name)
            : throw new OptionValueException(text, $"one of {Choices}");
    }
}
