using System.IO.Compression;
using static Microsoft.ML.ResNet.Tests.Scoring.ScoringFixtures;
using static Microsoft.ML.ResNet.Tests.Support.FixtureModels;
using static Microsoft.ML.ResNet.Tests.Support.ImagePipeline;

namespace Microsoft.ML.ResNet.Tests.Scoring;

/// <summary>
/// SaveAtomically's zip: the network handed to ML.NET as a placeholder and put back stored, every entry's content as
/// ML.NET's own save writes it, and the same answers from a stock load.
/// </summary>
[TestClass]
public sealed class ModelZipCompactionTests : TempFolderTest
{
    [TestMethod]
    public void SaveAtomically_Pipeline_StoresTheOnnxEntryKeepsTheOthersAndLoadsWithStockMlNet()
    {
        var ml = new MLContext(1);
        var pipeline = PixelPipeline(ml, SmallSize).Append(ml.Transforms.ResNetClassify(new ResNetClassifierOptions { FeatureColumnName = "Pixels", ModelPath = SmallModel() }));
        var photos = Photos(ml);
        using var model = pipeline.Fit(photos);
        var plain = Path.Combine(Folder, "plain.zip");
        var stored = Path.Combine(Folder, "stored.zip");

        var plainAfter = Path.Combine(Folder, "plain-after.zip");
        ml.Model.Save(model, photos.Schema, plain);
        ml.Model.SaveAtomically(model, photos.Schema, stored);
        ml.Model.Save(model, photos.Schema, plainAfter);

        // The placeholder that SaveAtomically hands ML.NET must never reach a plain save.
        CollectionAssert.AreEqual(OnnxEntry(plain), OnnxEntry(plainAfter));

        using (var plainZip = ZipFile.OpenRead(plain))
        using (var storedZip = ZipFile.OpenRead(stored))
        {
            CollectionAssert.AreEqual(plainZip.Entries.Select(e => e.FullName).ToArray(), storedZip.Entries.Select(e => e.FullName).ToArray(), "same entries, same order");
            foreach (var entry in storedZip.Entries)
            {
                var original = plainZip.GetEntry(entry.FullName)!;
                CollectionAssert.AreEqual(Content(original), Content(entry), entry.FullName);
                if (entry.Name == "OnnxModel")
                {
                    Assert.AreEqual(entry.Length, entry.CompressedLength, $"{entry.FullName} is stored");
                    Assert.IsLessThan(original.Length, original.CompressedLength, "ML.NET deflates it");
                }
            }

            Assert.IsTrue(storedZip.Entries.Any(e => e.Name == "OnnxModel"), "the zip has the network");
        }

        var fromPlain = ml.Model.Load(plain, out _);
        var fromStored = ml.Model.Load(stored, out _);
        CollectionAssert.AreEqual(Keys(fromPlain.Transform(photos)), Keys(fromStored.Transform(photos)));
        Assert.AreEqual(0f, MaxDifference(Scores(fromPlain.Transform(photos)), Scores(fromStored.Transform(photos))));
        (fromPlain as IDisposable)?.Dispose();
        (fromStored as IDisposable)?.Dispose();
    }

    private static byte[] OnnxEntry(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        return Content(archive.Entries.Single(e => e.Name == "OnnxModel"));
    }

    private static byte[] Content(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}
