# One image for every role of the cluster; docker-compose.yml picks the role by command.
#   build:   docker build -t orleans-presence .
#   silo:    dotnet /app/silo/Silo.dll            (migrate: dotnet /app/silo/Silo.dll migrate)
#   gateway: dotnet /app/gateway/Gateway.dll --urls http://0.0.0.0:8080
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props Orleans.Presence.sln ./
COPY Grains.Interfaces/Grains.Interfaces.csproj Grains.Interfaces/
COPY Grains/Grains.csproj Grains/
COPY Hosting/Hosting.csproj Hosting/
COPY Silo/Silo.csproj Silo/
COPY Gateway/Gateway.csproj Gateway/
RUN dotnet restore Gateway/Gateway.csproj && dotnet restore Silo/Silo.csproj
COPY Grains.Interfaces/ Grains.Interfaces/
COPY Grains/ Grains/
COPY Hosting/ Hosting/
COPY Silo/ Silo/
COPY Gateway/ Gateway/
RUN dotnet publish Silo/Silo.csproj -c Release --no-restore -o /app/silo \
 && dotnet publish Gateway/Gateway.csproj -c Release --no-restore -o /app/gateway

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app /app
ENV ASPNETCORE_ENVIRONMENT=Production \
    DOTNET_ENVIRONMENT=Production \
    Presence__Silo__AdvertisedIP=auto
USER $APP_UID
EXPOSE 8080 11111 30000
CMD ["dotnet", "/app/gateway/Gateway.dll", "--urls", "http://0.0.0.0:8080"]
