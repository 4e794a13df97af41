using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Infery.EventStore;

/// <summary>Maps event types to their stable wire names and serializes them with System.Text.Json.</summary>
public sealed class EventTypeRegistry
{
    private readonly ConcurrentDictionary<Type, string> namesByType = new();
    private readonly ConcurrentDictionary<string, Type> typesByName = new(StringComparer.Ordinal);

    public EventTypeRegistry(IJsonTypeInfoResolver? resolver = null)
    {
        SerializerOptions = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            TypeInfoResolver = resolver is null
                ? new DefaultJsonTypeInfoResolver()
                : JsonTypeInfoResolver.Combine(resolver, new DefaultJsonTypeInfoResolver()),
        };
    }

    public JsonSerializerOptions SerializerOptions { get; }

    public EventTypeRegistry Register<T>() => Register(typeof(T));

    public EventTypeRegistry Register(Type type)
    {
        var name = type.GetCustomAttribute<EventNameAttribute>()?.Name
            ?? throw new ArgumentException($"{type.Name} has no [EventName]", nameof(type));
        if (typesByName.TryGetValue(name, out var existing) && existing != type)
            throw new ArgumentException($"event name '{name}' is used by both {existing.Name} and {type.Name}");
        namesByType[type] = name;
        typesByName[name] = type;
        return this;
    }

    /// <summary>Registers every type in the assembly that carries [EventName].</summary>
    public EventTypeRegistry RegisterAll(Assembly assembly)
    {
        foreach (var type in assembly.GetTypes())
            if (type.GetCustomAttribute<EventNameAttribute>() is not null)
                Register(type);
        return this;
    }

    public string NameOf(Type type) =>
        namesByType.TryGetValue(type, out var name)
            ? name
            : throw new InvalidOperationException($"event type {type.Name} is not registered");

    public string Serialize(object data) => JsonSerializer.Serialize(data, data.GetType(), SerializerOptions);

    /// <summary>The form appends send: PostgreSQL takes <c>jsonb</c> as UTF-8, so no string is built on the way.</summary>
    internal byte[] SerializeToUtf8(object data) => JsonSerializer.SerializeToUtf8Bytes(data, data.GetType(), SerializerOptions);

    /// <summary>Unknown names (events written by a newer version) come back as a JsonElement, never an error.</summary>
    public object Deserialize(string typeName, string json) =>
        typesByName.TryGetValue(typeName, out var type)
            ? JsonSerializer.Deserialize(json, type, SerializerOptions)!
            : JsonSerializer.Deserialize<JsonElement>(json);

    internal byte[] SerializeMetadataToUtf8(EventMetadata metadata) =>
        JsonSerializer.SerializeToUtf8Bytes(metadata, SerializerOptions);

    internal EventMetadata DeserializeMetadata(string json) =>
        JsonSerializer.Deserialize<EventMetadata>(json, SerializerOptions) ?? EventMetadata.None;
}
