using Infery.EventStore.Schema;

namespace Infery.Projections;

public static class ProjectionsSchema
{
    public static SchemaModule Module { get; } = new("projections", typeof(ProjectionsSchema).Assembly);
}
