using System.Runtime.CompilerServices;
using System.Text;

namespace Infery.Api.Providers;

/// <summary>One server-sent event: its name (null when the stream does not name events) and its data lines joined.</summary>
public readonly record struct SseEvent(string? Event, string Data);

/// <summary>
/// Reads server-sent events from an upstream body. Waiting longer than the idle timeout for the next line
/// is a <see cref="ProviderFailure.Timeout"/>; a connection that breaks is <see cref="ProviderFailure.Unreachable"/>.
/// </summary>
public static class SseReader
{
    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream body, TimeSpan idleTimeout, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(body, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 8192);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        string? name = null;
        var data = new StringBuilder();
        while (true)
        {
            idle.CancelAfter(idleTimeout);
            string? line;
            try
            {
                line = await reader.ReadLineAsync(idle.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new ProviderException(ProviderFailure.Timeout, $"no data from the provider for {idleTimeout.TotalSeconds:0.#}s mid-stream");
            }
            catch (IOException e)
            {
                throw new ProviderException(ProviderFailure.Unreachable, "the provider's connection broke mid-stream", inner: e);
            }

            if (line is null)
            {
                if (data.Length > 0)
                    yield return new SseEvent(name, data.ToString());
                yield break;
            }
            if (line.Length == 0)
            {
                if (data.Length > 0 || name is not null)
                    yield return new SseEvent(name, data.ToString());
                name = null;
                data.Clear();
                continue;
            }
            if (line[0] == ':')
                continue;
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            if (field == "event")
                name = value;
            else if (field == "data")
            {
                if (data.Length > 0)
                    data.Append('\n');
                data.Append(value);
            }
        }
    }
}
