FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Infery.Api -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# poppler's PDF tools convert PDFs for models that cannot read them.
RUN apt-get update && apt-get install -y --no-install-recommends poppler-utils && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_URLS=http://0.0.0.0:8080
# The youngest generation's budget: see DOTNET_GCgen0size in the README.
ENV DOTNET_GCgen0size=0x4000000
# Charges owed while the database was away, kept for the next start: on a volume, so that a new container has them.
ENV OwedCharges__JournalPath=/var/lib/infery/owed-charges.jsonl
VOLUME /var/lib/infery
EXPOSE 8080
ENTRYPOINT ["dotnet", "Infery.Api.dll"]
