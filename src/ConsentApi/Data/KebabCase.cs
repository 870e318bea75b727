using ConsentApi.Http;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace ConsentApi.Data;

/// <summary>Stores enums as the same kebab-case words the API speaks ("opt-in"), readable in SQL.</summary>
public static class KebabCase
{
    public static string Name<T>(T value) where T : struct, Enum => Names<T>.ToName[value];

    /// <summary>The enum value a stored word stands for (for rows read without EF).</summary>
    public static T Parse<T>(string name) where T : struct, Enum => Names<T>.FromName[name];

    public static ValueConverter<T, string> Converter<T>() where T : struct, Enum =>
        new(v => Names<T>.ToName[v], s => Names<T>.FromName[s]);

    private static class Names<T> where T : struct, Enum
    {
        public static readonly Dictionary<T, string> ToName =
            Enum.GetValues<T>().ToDictionary(v => v, v => JsonSetup.EnumNaming.ConvertName(v.ToString()));

        public static readonly Dictionary<string, T> FromName = ToName.ToDictionary(p => p.Value, p => p.Key);
    }
}
