namespace ConsentApi.Consents;

public static class ConsentsSetup
{
    /// <summary>The ledger and its group commit, the checks every door shares, the node's consent cache, its change listener and the outbox dispatcher.</summary>
    public static WebApplicationBuilder AddConsents(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<ConsentLedger>();
        builder.Services.AddSingleton<GroupCommit>();
        builder.Services.AddScoped<ConsentChecker>();
        builder.Services.AddSingleton(new ConsentCache(builder.Configuration.GetSection("ConsentCache").Get<ConsentCacheSettings>() ?? new()));
        builder.Services.AddSingleton<ConsentOutbox>();
        builder.Services.AddHostedService<ConsentChangeListener>();
        builder.Services.AddHostedService<OutboxDispatcher>();
        builder.Services.Configure<ControllerSettings>(builder.Configuration.GetSection("Controller"));
        return builder;
    }
}
