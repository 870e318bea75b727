using System.Text;
using Microsoft.AspNetCore.Authorization;

namespace ConsentApi.Auth;

public static class AuthSetup
{
    public const int MinimumBootstrapKeyLength = 32;

    public static WebApplicationBuilder AddConsentAuth(this WebApplicationBuilder builder)
    {
        var bootstrap = builder.Configuration["Auth:BootstrapAdminKey"];
        if (bootstrap is { Length: > 0 and < MinimumBootstrapKeyLength })
        {
            throw new InvalidOperationException(
                $"Auth:BootstrapAdminKey must be at least {MinimumBootstrapKeyLength} characters; generate one with `openssl rand -hex 32`.");
        }

        builder.Services.AddMemoryCache();
        builder.Services.AddSingleton(new BootstrapKey(string.IsNullOrEmpty(bootstrap) ? null : Encoding.ASCII.GetBytes(ApiKey.Hash(bootstrap))));
        // Registered, so that each request's handler comes from the container rather than from reflection.
        builder.Services.AddTransient<ApiKeyAuthenticationHandler>();
        builder.Services.AddAuthentication(options =>
        {
            options.AddScheme<ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
            options.DefaultScheme = ApiKeyAuthenticationHandler.SchemeName;
        });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Roles.AdminPolicy, p => p.RequireRole(Roles.Admin))
            .AddPolicy(Roles.ServicePolicy, p => p.RequireRole(Roles.Service, Roles.Admin))
            // Secure by default: an endpoint that forgets to say who may call it is admin-only.
            // Routing's own refusals (415 wrong media type, 405 wrong method) are plain endpoints
            // without metadata, not forgotten ones: any caller with a valid key hears what is wrong.
            .SetFallbackPolicy(new AuthorizationPolicyBuilder()
                .RequireAuthenticatedUser()
                .RequireAssertion(c => c.User.IsInRole(Roles.Admin)
                    || (c.Resource is HttpContext http && http.GetEndpoint() is { } endpoint && endpoint is not RouteEndpoint))
                .Build());
        return builder;
    }
}
