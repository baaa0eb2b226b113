using static TorchSharp.torch;

namespace Microsoft.ML.ResNet.Export.Emitters;

/// <summary>
/// The registered children of a module whose forward is hand-written (blocks, the root): the emitter
/// knows which children that forward calls, so any other child is something the export would drop.
/// </summary>
internal sealed class ModuleChildren
{
    private readonly Dictionary<string, nn.Module> _children;
    private readonly nn.Module _parent;
    private readonly string _path;

    private ModuleChildren(nn.Module parent, string path, Dictionary<string, nn.Module> children)
    {
        _parent = parent;
        _path = path;
        _children = children;
    }

    /// <exception cref="NotSupportedException">A child is not among <paramref name="known"/>.</exception>
    public static ModuleChildren Of(nn.Module parent, string path, IReadOnlyCollection<string> known)
    {
        var children = new Dictionary<string, nn.Module>(StringComparer.Ordinal);
        foreach (var (name, child) in parent.named_children())
        {
            if (!known.Contains(name))
            {
                throw ModuleTreeWalker.Unsupported(
                    ModuleTreeWalker.ChildPath(path, name),
                    child,
                    $"{parent.GetType().Name}'s forward does not call a child named '{name}'; it calls {string.Join(", ", known)}");
            }

            children.Add(name, child);
        }

        return new ModuleChildren(parent, path, children);
    }

    public string PathOf(string name) => ModuleTreeWalker.ChildPath(_path, name);

    /// <exception cref="NotSupportedException">The child is missing or not a <typeparamref name="T"/>.</exception>
    public T Required<T>(string name)
        where T : nn.Module
    {
        if (!_children.TryGetValue(name, out var child))
        {
            throw new NotSupportedException(
                $"{PathOf(name)}: missing; {_parent.GetType().Name} at '{_path}' needs it. Registered children: {string.Join(", ", _children.Keys)}.");
        }

        return child as T ?? throw ModuleTreeWalker.Unsupported(PathOf(name), child, $"expected {typeof(T).Name} here");
    }

    public nn.Module? Optional(string name) => _children.GetValueOrDefault(name);
}
