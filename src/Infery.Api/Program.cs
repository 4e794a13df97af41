using Infery.Api.Infrastructure;

var builder = WebApplication.CreateBuilder(args);
builder.AddInferyGateway();

var app = builder.Build();
app.UseInferyGateway();
app.Run();

public partial class Program;
