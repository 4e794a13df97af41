using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Infery.EventStore;

namespace Infery.Api.Gateway.Billing;

/// <summary>
/// Owed charges on disk, so that a gateway that stops or dies before it could record them records them when it starts
/// again. One JSON line per charge owed and one per charge settled (recorded, or given up and logged), each synced to
/// disk before the call returns; emptied whenever nothing is owed. The file is held exclusively: two gateways cannot
/// share one.
/// </summary>
public sealed class OwedChargeJournal : IDisposable
{
    private readonly FileStream file;
    private readonly EventTypeRegistry registry;
    private readonly Lock gate = new();

    public OwedChargeJournal(string path, EventTypeRegistry registry)
    {
        Path = System.IO.Path.GetFullPath(path);
        this.registry = registry;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        try
        {
            file = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException(
                $"The owed charges journal {Path} is in use by another gateway; give each its own with OwedCharges__JournalPath.", e);
        }
    }

    public string Path { get; }

    /// <summary>The charges owed and not settled when the journal was last written, in the order they were owed.</summary>
    public List<OwedCharge> ReadOwed()
    {
        lock (gate)
        {
            file.Position = 0;
            var owed = new Dictionary<string, OwedCharge>(StringComparer.Ordinal);
            using var reader = new StreamReader(file, Encoding.UTF8, leaveOpen: true);
            while (reader.ReadLine() is { } line)
            {
                // A line cut short by a crash while it was written was never acknowledged to anyone.
                if (TryParse(line) is not { } entry)
                    continue;
                if (entry["owed"] is JsonObject charge)
                    owed[charge["stream_id"]!.GetValue<string>()] = ToCharge(charge);
                else if (entry["settled"]?.GetValue<string>() is { } streamId)
                    owed.Remove(streamId);
            }
            EndWithNewline();
            return [.. owed.Values];
        }
    }

    /// <summary>Past a line cut short, so that the next one starts a line of its own.</summary>
    private void EndWithNewline()
    {
        if (file.Length == 0)
            return;
        file.Seek(-1, SeekOrigin.End);
        if (file.ReadByte() == '\n')
            return;
        file.WriteByte((byte)'\n');
        file.Flush(flushToDisk: true);
    }

    public void Owe(OwedCharge charge)
    {
        var events = new JsonArray();
        foreach (var data in charge.Events)
            events.Add(new JsonObject { ["type"] = registry.NameOf(data.GetType()), ["data"] = JsonNode.Parse(registry.Serialize(data)) });
        Append(new JsonObject
        {
            ["owed"] = new JsonObject
            {
                ["stream_id"] = charge.StreamId,
                ["request_id"] = charge.RequestId,
                ["workspace_id"] = charge.WorkspaceId,
                ["key_id"] = charge.KeyId,
                ["amount"] = charge.Amount,
                ["metadata"] = JsonSerializer.SerializeToNode(charge.Metadata, registry.SerializerOptions),
                ["events"] = events,
            },
        });
    }

    /// <summary>The charge is recorded or given up; with nothing else owed, the journal is emptied.</summary>
    public void Settle(string streamId, bool nothingOwed)
    {
        if (!nothingOwed)
        {
            Append(new JsonObject { ["settled"] = streamId });
            return;
        }
        lock (gate)
        {
            file.SetLength(0);
            file.Flush(flushToDisk: true);
        }
    }

    public void Dispose() => file.Dispose();

    private void Append(JsonObject entry)
    {
        var line = Encoding.UTF8.GetBytes(entry.ToJsonString() + "\n");
        lock (gate)
        {
            file.Write(line);
            file.Flush(flushToDisk: true);
        }
    }

    private OwedCharge ToCharge(JsonObject charge) => new(
        charge["stream_id"]!.GetValue<string>(),
        charge["request_id"]!.GetValue<string>(),
        charge["workspace_id"]!.GetValue<string>(),
        charge["key_id"]!.GetValue<string>(),
        [.. charge["events"]!.AsArray().Select(e => registry.Deserialize(e!["type"]!.GetValue<string>(), e["data"]!.ToJsonString()))],
        charge["metadata"].Deserialize<EventMetadata>(registry.SerializerOptions) ?? EventMetadata.None,
        reservation: null,
        charge["amount"]!.GetValue<long>());

    private static JsonObject? TryParse(string line)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
