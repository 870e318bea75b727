using System.Collections.Concurrent;
using System.Net;
using System.Text;
using ConsentApi.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace ConsentApi.IntegrationTests.Http;

/// <summary>An API at log level Information whose log events are also kept in memory.</summary>
public sealed class RequestLogFixture : ApiFixture
{
    public KeptLogEvents Events { get; } = new();

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Serilog:MinimumLevel:Default"] = "Information",
    };

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<ILogEventSink>(Events);
}

public sealed class KeptLogEvents : ILogEventSink
{
    private readonly ConcurrentQueue<LogEvent> _events = new();

    public IReadOnlyCollection<LogEvent> All => _events;

    public void Emit(LogEvent logEvent) => _events.Enqueue(logEvent);

    /// <summary>The request line for the route and status (the line is written just after the answer is sent).</summary>
    public async Task<LogEvent> RequestLineAsync(string routeTemplate, int status)
    {
        for (var waited = 0; waited < 5000; waited += 20)
        {
            var line = _events.FirstOrDefault(e => e.MessageTemplate.Text.StartsWith("HTTP ", StringComparison.Ordinal)
                && Scalar(e, "RouteTemplate") as string == routeTemplate && Scalar(e, "StatusCode") is int logged && logged == status);
            if (line is not null)
            {
                return line;
            }

            await Task.Delay(20);
        }

        var lines = _events.Where(e => e.MessageTemplate.Text.StartsWith("HTTP ", StringComparison.Ordinal)).Select(e => e.RenderMessage());
        throw new Xunit.Sdk.XunitException($"No request line for {routeTemplate} with {status}; the lines were: {string.Join("; ", lines)}");
    }

    public static object? Scalar(LogEvent e, string property) =>
        e.Properties.TryGetValue(property, out var value) && value is ScalarValue scalar ? scalar.Value : null;
}

/// <summary>The one line logged per request says what the client was answered, never the path.</summary>
public sealed class RequestLogTests(RequestLogFixture fixture) : ApiTest(fixture), IClassFixture<RequestLogFixture>
{
    private KeptLogEvents Events => fixture.Events;

    [Fact]
    public async Task BadJsonBody_IsLoggedAsThe400ItWasAnswered_NotAs500()
    {
        using var body = new StringContent("{\"key\": ", Encoding.UTF8, "application/json");
        var response = await Admin.PostAsync("/api/v1/purposes", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);

        var line = await Events.RequestLineAsync("/api/v1/purposes/", 400);
        Assert.Equal(LogEventLevel.Information, line.Level);
        Assert.Null(line.Exception);
        Assert.DoesNotContain(Events.All, e => KeptLogEvents.Scalar(e, "RouteTemplate") as string == "/api/v1/purposes/"
                                                       && KeptLogEvents.Scalar(e, "StatusCode") is 500);
    }

    [Fact]
    public async Task CustomerRoute_IsLoggedByItsTemplate_WithoutTheCustomerId()
    {
        var response = await Admin.GetAsync("/api/v1/customers/c-log-7/consents");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var line = await Events.RequestLineAsync("/api/v1/customers/{customerId}/consents", 200);
        Assert.Equal("GET", KeptLogEvents.Scalar(line, "RequestMethod"));
        Assert.DoesNotContain("c-log-7", line.RenderMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(line.Properties.Values, v => v.ToString().Contains("c-log-7", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnknownPath_IsLoggedAsNoRoute()
    {
        var response = await Admin.GetAsync("/api/v1/no-such-thing");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);

        await Events.RequestLineAsync("(no route)", 404);
    }
}
