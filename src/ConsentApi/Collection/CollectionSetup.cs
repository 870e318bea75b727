namespace ConsentApi.Collection;

public static class CollectionSetup
{
    public static WebApplicationBuilder AddCollection(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<DataCollector>();
        builder.Services.AddSingleton<Purposes.PurposeVersionCache>(); // the notices collection's fast path judges by
        builder.Services.AddSingleton(new FieldEncryption(builder.Configuration)); // fails the start when keys are missing
        return builder;
    }
}
