using ConsentApi.Customers;

namespace ConsentApi.Lifecycle;

public static class LifecycleSetup
{
    /// <summary>Expiry and retention sweeps, and erasure.</summary>
    public static WebApplicationBuilder AddLifecycle(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<LifecycleSweeper>();
        builder.Services.AddHostedService<LifecycleSweepService>();
        builder.Services.AddScoped<CustomerErasure>();
        return builder;
    }
}
