//! Pass images uploaded in the console: one PNG, checked, made into the 1x, 2x and 3x files
//! Wallet picks from by screen density (Apple's sizes, in points: logo at most 160×50, the
//! store card's strip 375×144, the icon 29×29).

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageFormat};

use crate::domain::Invalid;

/// The largest upload we read: a 3x strip is about 1 MB as an uncompressed-ish PNG.
pub const MAX_UPLOAD_BYTES: usize = 4 * 1024 * 1024;
/// Decoded pixels we accept (a bomb of a PNG is small on disk and huge in memory).
const MAX_SIDE: u32 = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Logo,
    Strip,
    Icon,
}

impl Slot {
    pub fn name(self) -> &'static str {
        match self {
            Slot::Logo => "logo",
            Slot::Strip => "strip",
            Slot::Icon => "icon",
        }
    }

    /// Size at 1x in points, and whether the image must fill it (cropped) or fit in it.
    fn box_1x(self) -> (u32, u32, bool) {
        match self {
            Slot::Logo => (160, 50, false),
            Slot::Strip => (375, 144, true),
            Slot::Icon => (29, 29, true),
        }
    }
}

/// `logo.png`, `logo@2x.png`, `logo@3x.png` from one upload: refused unless it is a PNG at least
/// as large as the 1x box (a logo: as high as 50 px or as wide as 160 px), at most 4000 px a side.
pub fn scaled(slot: Slot, upload: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Invalid> {
    if upload.len() > MAX_UPLOAD_BYTES {
        return Err(Invalid::new(format!("{}: at most {} MB", slot.name(), MAX_UPLOAD_BYTES / 1024 / 1024)));
    }
    if image::guess_format(upload).ok() != Some(ImageFormat::Png) {
        return Err(Invalid::new(format!("{}: a PNG file, please", slot.name())));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(upload), ImageFormat::Png);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| Invalid::new(format!("{}: not a PNG we can read ({e})", slot.name())))?;
    let (w, h) = picture.dimensions();
    let (bw, bh, fill) = slot.box_1x();
    let big_enough = if fill { w >= bw && h >= bh } else { w >= bw || h >= bh };
    if !big_enough {
        return Err(Invalid::new(format!(
            "{}: {w}×{h} px is too small; at least {bw}×{bh} px (better {}×{} px)",
            slot.name(),
            bw * 3,
            bh * 3
        )));
    }
    let cropped = if fill { cover(&picture, bw, bh) } else { picture };
    let mut files = Vec::with_capacity(3);
    for scale in 1..=3u32 {
        let (tw, th) = (bw * scale, bh * scale);
        let sized = if fill {
            cropped.resize_exact(tw, th, FilterType::Lanczos3)
        } else {
            cropped.resize(tw, th, FilterType::Lanczos3)
        };
        let mut png = Vec::new();
        sized
            .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
            .map_err(|e| Invalid::new(format!("{}: {e}", slot.name())))?;
        let suffix = if scale == 1 { String::new() } else { format!("@{scale}x") };
        files.push((format!("{}{suffix}.png", slot.name()), png));
    }
    Ok(files)
}

/// The centred part of `picture` with the box's proportions.
fn cover(picture: &DynamicImage, bw: u32, bh: u32) -> DynamicImage {
    let (w, h) = picture.dimensions();
    // Compare w/h with bw/bh in integers: w*bh against h*bw.
    let (cw, ch) = if u64::from(w) * u64::from(bh) > u64::from(h) * u64::from(bw) {
        (u32::try_from(u64::from(h) * u64::from(bw) / u64::from(bh)).unwrap_or(w), h)
    } else {
        (w, u32::try_from(u64::from(w) * u64::from(bh) / u64::from(bw)).unwrap_or(h))
    };
    picture.crop_imm((w - cw) / 2, (h - ch) / 2, cw, ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 30, 30, 255]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(img).write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    fn size(bytes: &[u8]) -> (u32, u32) {
        image::load_from_memory(bytes).unwrap().dimensions()
    }

    #[test]
    fn one_upload_gives_three_densities_of_apples_sizes() {
        let files = scaled(Slot::Strip, &png(2000, 1000)).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["strip.png", "strip@2x.png", "strip@3x.png"]);
        assert_eq!(files.iter().map(|(_, b)| size(b)).collect::<Vec<_>>(), [(375, 144), (750, 288), (1125, 432)]);
        // A logo keeps its proportions inside 160×50 points.
        let logo = scaled(Slot::Logo, &png(600, 100)).unwrap();
        assert_eq!(logo.iter().map(|(_, b)| size(b)).collect::<Vec<_>>(), [(160, 27), (320, 53), (480, 80)]);
        let icon = scaled(Slot::Icon, &png(100, 100)).unwrap();
        assert_eq!(size(&icon[2].1), (87, 87));
    }

    #[test]
    fn other_files_and_small_images_are_refused() {
        assert!(scaled(Slot::Logo, b"GIF89a....").is_err());
        assert!(scaled(Slot::Strip, &png(300, 144)).is_err(), "narrower than 375");
        assert!(scaled(Slot::Logo, &png(100, 40)).is_err());
        let mut truncated = png(400, 400);
        truncated.truncate(60);
        assert!(scaled(Slot::Icon, &truncated).is_err());
    }
}
