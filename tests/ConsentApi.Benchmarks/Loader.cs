using System.Net;
using System.Text;

namespace ConsentApi.Benchmarks;

/// <summary>
/// Loads the benchmark's data through the API itself: purposes p1..p5, customers bc-1..bc-N each granting p1..p3,
/// and one customer ("c360") with many events and data records for the Customer 360 scenario.
/// </summary>
internal sealed class Loader(HttpClient http)
{
    public const string Customer360 = "c360";

    public async Task LoadAsync(int customers, int events360, int records360)
    {
        for (var i = 1; i <= 5; i++)
        {
            await PostAsync("/api/v1/purposes", PurposeJson(i), allowConflict: true);
        }

        await ParallelAsync(customers, i => PostAsync($"/api/v1/customers/bc-{i + 1}/consents",
            """{"decisions":[{"purpose":"p1","granted":true,"purposeVersion":1},{"purpose":"p2","granted":true,"purposeVersion":1},{"purpose":"p3","granted":true,"purposeVersion":1}],"source":"import","collectionPoint":"bench-load"}"""));
        // One save is one event; the saves of one customer take turns on its ledger head, so they go one by one.
        for (var i = 0; i < events360; i++)
        {
            await PostAsync($"/api/v1/customers/{Customer360}/consents",
                """{"decisions":[{"purpose":"p1","granted":true,"purposeVersion":1}],"source":"import","collectionPoint":"bench-load"}""");
        }

        await ParallelAsync(records360, i => PostAsync($"/api/v1/customers/{Customer360}/data/p1",
            "{\"fields\":{\"email\":\"c360-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "@example.com\"}}"));
    }

    private static string PurposeJson(int i) =>
        $$"""
        {"key":"p{{i}}","name":"Purpose {{i}}","description":"Benchmark purpose {{i}}.",
         "dataCategories":[{"key":"email","description":"Email address","sensitive":false}],
         "recipients":[{"name":"Internal","thirdParty":false}],
         "retentionDays":365,"legalBasis":"consent","consentModel":"opt-in","consentLifetimeDays":395,
         "honorsGpc":false,"automatedDecisions":false,"onRevoke":"retain"}
        """;

    private static Task ParallelAsync(int count, Func<int, Task> body) =>
        Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (i, _) => await body(i));

    private async Task PostAsync(string path, string json, bool allowConflict = false)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(path, UriKind.Relative), content);
        if (!response.IsSuccessStatusCode && !(allowConflict && response.StatusCode == HttpStatusCode.Conflict))
        {
            throw new InvalidOperationException($"POST {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }
}
