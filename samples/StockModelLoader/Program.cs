using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

// Usage: StockModelLoader <model.zip> <pixels.bin> <rows> <out.json> [heat-map column]
// pixels.bin: rows x (the saved input column's size) little-endian float32. Writes Score, PredictedLabel,
// the key values, the heat-map column when named (its values and type) and the loaded assemblies as JSON.
// Only ML.NET is referenced here.
if (args.Length is not (4 or 5))
{
    Console.Error.WriteLine("Usage: StockModelLoader <model.zip> <pixels.bin> <rows> <out.json> [heat-map column]");
    return 2;
}

var ml = new MLContext(1);
var model = ml.Model.Load(args[0], out var inputSchema);

// Disposing matters beyond memory: ML.NET stages the network in a temp file and deletes it only on Dispose.
using var disposeModel = model as IDisposable;
var input = inputSchema.Single(c => c.Type is VectorDataViewType { ItemType: NumberDataViewType });
var size = ((VectorDataViewType)input.Type).Size;
var rows = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var all = new float[rows * size];
using (var stream = File.OpenRead(args[1]))
{
    stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(all.AsSpan()));
}

var definition = SchemaDefinition.Create(typeof(PixelRow));
definition[0].ColumnName = input.Name;
definition[0].ColumnType = input.Type;
var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(r => new PixelRow { Pixels = all.AsSpan(r * size, size).ToArray() }), definition);
var scored = model.Transform(data);
VBuffer<ReadOnlyMemory<char>> keys = default;
scored.Schema["PredictedLabel"].GetKeyValues(ref keys);
var heatMap = args.Length == 5 ? args[4] : null;
var result = new
{
    Score = scored.GetColumn<float[]>("Score").ToArray(),
    PredictedLabel = scored.GetColumn<uint>("PredictedLabel").ToArray(),
    PredictedLabelType = scored.Schema["PredictedLabel"].Type.ToString(),
    KeyValues = keys.DenseValues().Select(k => k.ToString()).ToArray(),
    HeatMap = heatMap is null ? null : scored.GetColumn<float[]>(heatMap).ToArray(),
    HeatMapType = heatMap is null ? null : scored.Schema[heatMap].Type.ToString(),
    Assemblies = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name).Order().ToArray(),
};
File.WriteAllText(args[3], JsonSerializer.Serialize(result));
return 0;

internal sealed class PixelRow
{
    public float[] Pixels { get; set; } = [];
}
