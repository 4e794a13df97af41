using System.Text.Json.Serialization;
using Infery.Domain.ApiKeys;
using Infery.Domain.Credits;
using Infery.Domain.Fallbacks;
using Infery.Domain.Requests;
using Infery.Domain.Workspaces;
using Infery.EventStore;

namespace Infery.Domain;

/// <summary>Source-generated serialization of every event, so appending one costs no reflection.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EventMetadata))]
[JsonSerializable(typeof(WorkspaceCreated))]
[JsonSerializable(typeof(WorkspaceRenamed))]
[JsonSerializable(typeof(StorageLimitSet))]
[JsonSerializable(typeof(MemberAdded))]
[JsonSerializable(typeof(CreditsGranted))]
[JsonSerializable(typeof(CreditsCharged))]
[JsonSerializable(typeof(CreditsRefunded))]
[JsonSerializable(typeof(ApiKeyIssued))]
[JsonSerializable(typeof(ApiKeyRevoked))]
[JsonSerializable(typeof(RequestServed))]
[JsonSerializable(typeof(RequestFailed))]
[JsonSerializable(typeof(UpstreamAttemptFailed))]
[JsonSerializable(typeof(FallbackFired))]
[JsonSerializable(typeof(FallbackChainSet))]
[JsonSerializable(typeof(FallbackChainCleared))]
public sealed partial class DomainEventsJson : JsonSerializerContext;
