namespace ConsentApi.Consents;

public static class ConsentsSetup
{
    /// <summary>The ledger, the checks every door shares, the node's consent cache and its change listener.</summary>
    public static WebApplicationBuilder AddConsents(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<ConsentLedger>();
        builder.Services.AddScoped<ConsentChecker>();
        builder.Services.AddSingleton(new ConsentCache(builder.Configuration.GetSection("ConsentCache").Get<ConsentCacheSettings>() ?? new()));
        builder.Services.AddHostedService<ConsentChangeListener>();
        builder.Services.Configure<ControllerSettings>(builder.Configuration.GetSection("Controller"));
        return builder;
    }
}
