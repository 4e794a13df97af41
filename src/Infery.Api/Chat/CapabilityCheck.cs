using Infery.Api.Catalog;
using Infery.Api.Http;

namespace Infery.Api.Chat;

/// <summary>
/// Refuses, before anything is reserved or sent, a request that uses an input the chosen model cannot take, a file
/// by id (there is no Files API to resolve it yet), or asks for a longer answer than it can write.
/// PDF files pass for every model: the gateway converts them for models that cannot read PDFs.
/// </summary>
public static class CapabilityCheck
{
    public static ApiError? Check(ChatRequest request, CatalogModel model)
    {
        var capabilities = model.Capabilities;
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var content = request.Messages[i].Content;
            for (var j = 0; j < content.Count; j++)
            {
                var param = $"messages[{i}].content[{j}]";
                if (content[j] is FilePart { FileId: not null })
                    return ApiError.InvalidRequest(
                        $"`{param}.file.file_id` refers to an uploaded file, and this gateway has no Files API yet. Send the file inline as `file_data`.",
                        $"{param}.file.file_id", "file_id_not_supported");
                if (content[j] is AudioPart && !capabilities.AudioInput)
                    return Unsupported(model, param, "audio_not_supported_by_model",
                        "does not accept audio input. Transcribe the audio with /v1/audio/transcriptions and send the text instead.");
                if (content[j] is ImagePart && !capabilities.Vision)
                    return Unsupported(model, param, "image_not_supported_by_model",
                        "does not accept images. Choose a model with supportsVision in /v1/models.");
            }
        }

        if (request.Tools.Count > 0 && !capabilities.Tools)
            return Unsupported(model, "tools", "tools_not_supported_by_model",
                "does not support tool calls. Choose a model with supportsTools in /v1/models.");

        if (request.ResponseFormat?.Type == "json_schema" && !capabilities.JsonSchema)
            return Unsupported(model, "response_format", "json_schema_not_supported_by_model",
                "does not support json_schema response formats. Use {\"type\":\"json_object\"} or a model with supportsJsonSchema.");

        if (request.MaxTokens > model.MaxOutputTokens)
        {
            var param = request.Body.ContainsKey("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
            return ApiError.InvalidRequest(
                $"{param} is too large: {request.MaxTokens}. The model `{model.Slug}` writes at most {model.MaxOutputTokens} completion tokens.",
                param, "max_tokens_too_large");
        }

        return null;
    }

    private static ApiError Unsupported(CatalogModel model, string param, string code, string what) =>
        ApiError.InvalidRequest($"The model `{model.Slug}` {what}", param, code);
}
