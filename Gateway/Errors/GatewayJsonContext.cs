using System.Text.Json.Serialization;

namespace Presence.Gateway.Errors;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(PlainError))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext;
