using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace ConsentApi.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a database or the app's configuration.</summary>
internal sealed class DesignTimeFactory : IDesignTimeDbContextFactory<ConsentDbContext>
{
    public ConsentDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<ConsentDbContext>()
        .UseNpgsql("Host=localhost;Database=consentapi_design")
        .UseSnakeCaseNamingConvention()
        .Options);
}
