using System.Text.Json;
using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.ResNet.Export;

/// <summary>
/// Brings a classifier's ONNX graph back to <see cref="OnnxContract"/> before it leaves the library as a file of
/// its own: the one input named <see cref="OnnxContract.PixelsInput"/>, only the contract's outputs and what
/// computes them, the labels the classifier scores with. A graph a saved zip gave back carries additions made for
/// ML.NET's OnnxTransformer (an input renamed after the pixel column, flattened outputs, scoring settings in the
/// metadata); this removes them without knowing what they were, so the file does not depend on how it was saved.
/// </summary>
internal static class OnnxContractGraph
{
    private static readonly HashSet<string> ContractOutputs =
        new(StringComparer.Ordinal) { OnnxContract.LogitsOutput, OnnxContract.ProbabilitiesOutput, OnnxContract.FeaturesOutput, OnnxContract.HeatMapsOutput };

    /// <summary>The graph under the contract. Returns <paramref name="onnx"/> itself when nothing needs changing, so
    /// an exporter graph is written byte for byte as the exporter made it.</summary>
    /// <param name="onnx">A classifier graph with one input and at least the <see cref="OnnxContract.ProbabilitiesOutput"/> output.</param>
    /// <param name="labels">The labels to record in <see cref="OnnxContract.Metadata.Labels"/>, in output order.</param>
    /// <param name="dropMetadataKeys">Metadata the library added for itself, to leave out.</param>
    /// <param name="dropNodes">Names of nodes the library added for itself: the outputs they make are left out too, even
    /// outputs the contract names (the heat maps a saved zip's graph carries for its heat-map column).</param>
    /// <exception cref="InvalidOperationException">The graph has no single input, or a tensor inside it is already
    /// called <see cref="OnnxContract.PixelsInput"/>.</exception>
    public static byte[] Restore(byte[] onnx, IReadOnlyList<string> labels, IReadOnlyCollection<string> dropMetadataKeys, IReadOnlyCollection<string>? dropNodes = null)
    {
        var model = ModelProto.Parser.ParseFrom(onnx);
        var changed = RenameInput(model.Graph);
        changed |= KeepContractOutputs(model.Graph, dropNodes ?? []);
        changed |= SetMetadata(model, labels, dropMetadataKeys);
        return changed ? model.ToByteArray() : onnx;
    }

    private static bool RenameInput(GraphProto graph)
    {
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        if (inputs.Count != 1)
        {
            throw new InvalidOperationException(
                $"A classifier graph has one input; this one has {inputs.Count}: {string.Join(", ", inputs.Select(i => i.Name))}.");
        }

        var input = inputs[0];
        if (input.Name == OnnxContract.PixelsInput)
        {
            return false;
        }

        if (graph.Node.Any(n => n.Output.Contains(OnnxContract.PixelsInput)) || initializers.Contains(OnnxContract.PixelsInput))
        {
            throw new InvalidOperationException(
                $"Cannot name the input '{OnnxContract.PixelsInput}': a tensor inside the graph already has that name (the input is '{input.Name}').");
        }

        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == input.Name)
                {
                    node.Input[i] = OnnxContract.PixelsInput;
                }
            }
        }

        input.Name = OnnxContract.PixelsInput;
        return true;
    }

    /// <summary>Drops the outputs the contract does not name and those <paramref name="dropNodes"/> make, then every node
    /// and initializer nothing kept reads.</summary>
    private static bool KeepContractOutputs(GraphProto graph, IReadOnlyCollection<string> dropNodes)
    {
        var dropped = graph.Node.Where(n => dropNodes.Contains(n.Name)).SelectMany(n => n.Output).ToHashSet(StringComparer.Ordinal);
        var extra = graph.Output.Where(o => !ContractOutputs.Contains(o.Name) || dropped.Contains(o.Name)).ToList();
        if (extra.Count == 0)
        {
            return false;
        }

        foreach (var output in extra)
        {
            graph.Output.Remove(output);
        }

        // Nodes are in topological order, so one backward pass finds everything the kept outputs depend on.
        var needed = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var kept = new List<NodeProto>();
        foreach (var node in graph.Node.Reverse())
        {
            if (node.Output.Any(needed.Contains))
            {
                kept.Add(node);
                needed.UnionWith(node.Input.Where(name => name.Length > 0));
            }
        }

        kept.Reverse();
        graph.Node.Clear();
        graph.Node.AddRange(kept);
        RemoveWhere(graph.Initializer, t => !needed.Contains(t.Name));
        RemoveWhere(graph.ValueInfo, v => !needed.Contains(v.Name));
        return true;
    }

    private static bool SetMetadata(ModelProto model, IReadOnlyList<string> labels, IReadOnlyCollection<string> dropMetadataKeys)
    {
        var changed = RemoveWhere(model.MetadataProps, p => dropMetadataKeys.Contains(p.Key));
        var json = JsonSerializer.Serialize(labels);
        var existing = model.MetadataProps.FirstOrDefault(p => p.Key == OnnxContract.Metadata.Labels);
        if (existing is null)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = OnnxContract.Metadata.Labels, Value = json });
            return true;
        }

        if (existing.Value == json)
        {
            return changed;
        }

        existing.Value = json;
        return true;
    }

    private static bool RemoveWhere<T>(Google.Protobuf.Collections.RepeatedField<T> items, Func<T, bool> remove)
    {
        var doomed = items.Where(remove).ToList();
        foreach (var item in doomed)
        {
            items.Remove(item);
        }

        return doomed.Count > 0;
    }
}
