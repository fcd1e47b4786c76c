using Microsoft.Extensions.Hosting;
using Presence.Silo.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.UseOrleans(silo => silo.AddPresenceSilo(builder.Configuration));
await builder.Build().RunAsync();
