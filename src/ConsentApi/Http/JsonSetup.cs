using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConsentApi.Http;

public static class JsonSetup
{
    /// <summary>Enum values travel as kebab-case strings ("opt-in"); numbers are refused.</summary>
    public static readonly JsonNamingPolicy EnumNaming = JsonNamingPolicy.KebabCaseLower;

    /// <summary>
    /// Bodies are strict: an unknown field, a number for an enum or a string for a number is a
    /// 400 naming the field, never silently dropped or coerced.
    /// </summary>
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.PropertyNameCaseInsensitive = false; // "Name" is not "name": it is an unknown field
        options.NumberHandling = JsonNumberHandling.Strict;
        options.MaxDepth = 16;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.Converters.Add(new JsonStringEnumConverter(EnumNaming, allowIntegerValues: false));
    }

    public static IServiceCollection AddStrictJson(this IServiceCollection services) =>
        services.ConfigureHttpJsonOptions(o => Configure(o.SerializerOptions));
}
