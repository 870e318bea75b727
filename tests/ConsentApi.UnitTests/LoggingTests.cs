using ConsentApi.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Serilog;

namespace ConsentApi.UnitTests;

public sealed class LoggingTests
{
    [Fact]
    public void SerilogFactory_WrappedInTheCache_GivesOneLoggerPerCategory()
    {
        var services = new ServiceCollection();
        services.AddSerilog((_, logger) => logger.MinimumLevel.Warning());
        CachingLoggerFactory.Register(services);
        using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<ILoggerFactory>();

        Assert.IsType<CachingLoggerFactory>(factory);
        Assert.Same(factory.CreateLogger("Microsoft.AspNetCore.Http.Result.OkObjectResult"),
            factory.CreateLogger("Microsoft.AspNetCore.Http.Result.OkObjectResult"));
        Assert.NotSame(factory.CreateLogger("a"), factory.CreateLogger("b"));
    }

    [Fact]
    public async Task ExceptionOfAClientThatWentAway_IsRecordedAs499_AndNotAnswered()
    {
        using var aborted = new CancellationTokenSource();
        await aborted.CancelAsync();
        await using var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var body = new MemoryStream();
        var context = new DefaultHttpContext { RequestAborted = aborted.Token, RequestServices = services };
        context.Response.Body = body;
        var handler = new ProblemExceptionHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<ProblemExceptionHandler>.Instance);

        var handled = await handler.TryHandleAsync(context, new OperationCanceledException(aborted.Token), CancellationToken.None);

        Assert.True(handled);
        Assert.Equal(ProblemExceptionHandler.ClientClosedRequest, context.Response.StatusCode);
        Assert.Equal(0, body.Length);
    }
}
