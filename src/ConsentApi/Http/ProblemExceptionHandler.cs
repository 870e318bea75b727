using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace ConsentApi.Http;

/// <summary>
/// The one place where exceptions become RFC 9457 problems. Bad bodies are the client's fault
/// (4xx naming the field); anything else is ours (500, logged, nothing about it leaked).
/// </summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger)
    : IExceptionHandler
{
    /// <summary>The status recorded for a request whose client disconnected before the answer.</summary>
    public const int ClientClosedRequest = 499;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var context = httpContext;
        HttpValidationProblemDetails? problem = exception switch
        {
            ApiProblemException api => new HttpValidationProblemDetails(api.Errors ?? new Dictionary<string, string[]>())
            {
                Status = api.Status, Type = api.Type, Title = api.Title, Detail = api.Message,
            },
            BadHttpRequestException { InnerException: JsonException json } => FromJson(json),
            BadHttpRequestException bad => FromBadRequest(bad),
            OperationCanceledException when context.RequestAborted.IsCancellationRequested => null,
            _ => null,
        };

        if (problem is null)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away: there is no one to answer, and it is not our failure. 499 (nginx's
                // "client closed request") is what the request log line then says; the client never sees it.
                if (!context.Response.HasStarted)
                {
                    context.Response.StatusCode = ClientClosedRequest;
                }

                return true;
            }

            LogUnhandled(logger, exception, context.Request.Method, context.GetEndpoint()?.DisplayName);
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status500InternalServerError,
                    Title = "An unexpected error occurred",
                    Detail = "The error was logged; nothing of the request was stored.",
                },
                Exception = exception,
            });
        }

        context.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = problem,
            Exception = exception,
        });
    }

    private static HttpValidationProblemDetails FromJson(JsonException json)
    {
        var field = JsonPathToField(json.Path);
        var message = json.Message switch
        {
            var m when m.Contains("could not be mapped", StringComparison.Ordinal) => "This field is not part of the request; remove it.",
            var m when m.Contains("could not be converted", StringComparison.Ordinal) => "The value has the wrong type or is not one of the allowed values.",
            var m when m.Contains("maximum configured depth", StringComparison.Ordinal) => "The JSON is nested too deeply.",
            _ => $"The body is not valid JSON (line {json.LineNumber + 1}, position {json.BytePositionInLine + 1}).",
        };
        return Validation(new Dictionary<string, string[]> { [field] = [message] }, StatusCodes.Status400BadRequest,
            "The request body could not be read.");
    }

    private static HttpValidationProblemDetails FromBadRequest(BadHttpRequestException bad) => bad.StatusCode switch
    {
        StatusCodes.Status413PayloadTooLarge => Validation(
            new Dictionary<string, string[]> { ["body"] = ["The request body is larger than this endpoint accepts."] },
            StatusCodes.Status413PayloadTooLarge, "The request body is too large."),
        StatusCodes.Status415UnsupportedMediaType => Validation(
            new Dictionary<string, string[]> { ["Content-Type"] = ["Send the body as application/json."] },
            StatusCodes.Status415UnsupportedMediaType, "The media type is not supported."),
        _ when bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase) => Validation(
            new Dictionary<string, string[]> { ["body"] = ["A JSON body is required."] },
            StatusCodes.Status400BadRequest, "The request body is missing."),
        _ => Validation(new Dictionary<string, string[]> { ["request"] = [bad.Message] }, bad.StatusCode, "The request is not valid."),
    };

    private static HttpValidationProblemDetails Validation(Dictionary<string, string[]> errors, int status, string detail) =>
        new(errors) { Status = status, Type = ProblemTypes.ForStatus(status), Title = "The request is not valid", Detail = detail };

    /// <summary>"$.decisions[0].granted" → "decisions[0].granted"; the root is "body".</summary>
    internal static string JsonPathToField(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return "body";
        }

        var field = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        return field.Length == 0 ? "body" : field;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception in {Method} {Endpoint}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string? endpoint);
}
