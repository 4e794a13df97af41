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
        catch (IOException e) when (e.HResult is SharingViolation or WouldBlock)
        {
            throw new InvalidOperationException(
                $"The owed charges journal {Path} is in use by another gateway; give each its own with OwedCharges__JournalPath.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"The owed charges journal {Path} cannot be opened ({e.Message}); set OwedCharges__JournalPath to a file the gateway may write.", e);
        }
        file.Seek(0, SeekOrigin.End);
    }

    /// <summary>The lock is held by another process: on Windows, and on Linux (EWOULDBLOCK from the lock call).</summary>
    private const int SharingViolation = unchecked((int)0x80070020), WouldBlock = 11;

    public string Path { get; }

    /// <summary>
    /// The charges owed and not settled when the journal was last written, in the order they were owed; and the lines
    /// of charges owed that this version cannot read back (an event it does not know, say), to be recorded by hand.
    /// </summary>
    public (List<OwedCharge> Owed, List<string> Unreadable) ReadOwed()
    {
        lock (gate)
        {
            file.Position = 0;
            var owed = new OrderedDictionary<string, OwedCharge>(StringComparer.Ordinal);
            var unreadable = new List<string>();
            using var reader = new StreamReader(file, Encoding.UTF8, leaveOpen: true);
            while (reader.ReadLine() is { } line)
            {
                // A line cut short by a crash while it was written was never acknowledged to anyone.
                if (TryParse(line) is not { } entry)
                    continue;
                if (entry["settled"] is JsonValue settled && settled.TryGetValue<string>(out var streamId))
                    owed.Remove(streamId);
                else if (ToCharge(entry["owed"]) is { } charge)
                    owed[charge.StreamId] = charge;
                else
                    unreadable.Add(line);
            }
            EndWithNewline();
            return ([.. owed.Values], unreadable);
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
            events.Add(new JsonObject { ["type"] = registry.NameOf(data.GetType()), ["data"] = JsonSerializer.SerializeToNode(data, data.GetType(), registry.SerializerOptions) });
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

    private OwedCharge? ToCharge(JsonNode? charge)
    {
        try
        {
            var events = charge!["events"]!.AsArray().Select(e => registry.Deserialize(e!["type"]!.GetValue<string>(), e["data"]!.ToJsonString())).ToList();
            if (events.Count == 0 || events.Any(e => e is JsonElement))
                return null;
            return new OwedCharge(
                charge["stream_id"]!.GetValue<string>(),
                charge["request_id"]!.GetValue<string>(),
                charge["workspace_id"]!.GetValue<string>(),
                charge["key_id"]!.GetValue<string>(),
                events,
                charge["metadata"].Deserialize<EventMetadata>(registry.SerializerOptions) ?? EventMetadata.None,
                reservation: null,
                charge["amount"]!.GetValue<long>()) { Journaled = true };
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or JsonException)
        {
            return null;
        }
    }

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
