using System.Reflection;
using Microsoft.ML.Data;

namespace Microsoft.ML.ResNet.Scoring;

/// <summary>
/// Holds one input column's values for every row of a batch. The batched cursor reads a whole batch
/// of input rows before the consumer sees the first, so pass-through columns must be copied out of
/// the input cursor, whose getters are only valid for its current row.
/// </summary>
internal abstract class CachedColumn
{
    public static CachedColumn Create(DataViewRow input, DataViewSchema.Column column, int capacity)
    {
        var raw = column.Type.RawType;
        var (definition, argument) = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? (typeof(CachedVectorColumn<>), raw.GetGenericArguments()[0])
            : (typeof(CachedValueColumn<>), raw);
        try
        {
            return (CachedColumn)Activator.CreateInstance(definition.MakeGenericType(argument), input, column, capacity)!;
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }
    }

    /// <summary>Copies the input cursor's current value into batch row <paramref name="slot"/>.</summary>
    public abstract void Store(int slot);

    /// <summary>A getter that reads batch row <paramref name="slot"/>().</summary>
    public abstract Delegate Getter(Func<int> slot);
}

/// <summary>Plain values (numbers, text, images): the getter's result is kept as is.</summary>
internal sealed class CachedValueColumn<T> : CachedColumn
{
    private readonly ValueGetter<T> _source;
    private readonly T[] _values;

    public CachedValueColumn(DataViewRow input, DataViewSchema.Column column, int capacity)
    {
        _source = input.GetGetter<T>(column);
        _values = new T[capacity];
    }

    public override void Store(int slot) => _source(ref _values[slot]);

    public override Delegate Getter(Func<int> slot) => (ValueGetter<T>)((ref T dst) => dst = _values[slot()]);
}

/// <summary>Vectors: deep copies, because a getter may hand out buffers it reuses.</summary>
internal sealed class CachedVectorColumn<T> : CachedColumn
{
    private readonly ValueGetter<VBuffer<T>> _source;
    private readonly VBuffer<T>[] _values;
    private VBuffer<T> _scratch;

    public CachedVectorColumn(DataViewRow input, DataViewSchema.Column column, int capacity)
    {
        _source = input.GetGetter<VBuffer<T>>(column);
        _values = new VBuffer<T>[capacity];
    }

    public override void Store(int slot)
    {
        _source(ref _scratch);
        _scratch.CopyTo(ref _values[slot]);
    }

    public override Delegate Getter(Func<int> slot) => (ValueGetter<VBuffer<T>>)((ref VBuffer<T> dst) => _values[slot()].CopyTo(ref dst));
}
