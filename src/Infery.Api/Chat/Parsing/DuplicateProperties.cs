using System.Text.Json.Nodes;

namespace Infery.Api.Chat.Parsing;

/// <summary>
/// A JsonObject parsed from text with a repeated property name throws when first read. Walking the whole
/// tree once, up front, turns that into a 400 instead of an exception in whichever code reads it later.
/// </summary>
internal static class DuplicateProperties
{
    /// <summary>The path of the first object holding a repeated name, or null when there is none.</summary>
    public static string? Find(JsonNode root)
    {
        // Iterative, so arbitrarily deep input cannot overflow the stack.
        var pending = new Stack<(JsonNode Node, string Path)>();
        pending.Push((root, ""));
        while (pending.TryPop(out var item))
        {
            switch (item.Node)
            {
                case JsonObject obj:
                    try
                    {
                        foreach (var (name, child) in obj)
                        {
                            if (child is JsonObject or JsonArray)
                                pending.Push((child, JsonFields.PathOf(item.Path, name)));
                        }
                    }
                    catch (ArgumentException)
                    {
                        return item.Path;
                    }
                    break;
                case JsonArray array:
                    for (var i = 0; i < array.Count; i++)
                    {
                        if (array[i] is JsonObject or JsonArray)
                            pending.Push((array[i]!, JsonFields.PathOf(item.Path, i)));
                    }
                    break;
            }
        }
        return null;
    }
}
